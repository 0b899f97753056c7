"""qwen_ci_tool: one streaming request to Qwen's built-in code interpreter, as one typed result.

```python
from qwen_ci_tool import CodeInterpreter

result = CodeInterpreter().run("What is 123 to the power of 21?")
print(result.answer, result.code_runs[0].code, result.usage.total_tokens)
```
"""

from __future__ import annotations

import contextlib
import typing as _typing

from ._batch import BatchOutcome, BatchTask
from ._client import AsyncCodeInterpreter, AsyncCodeInterpreterStream, CodeInterpreter, CodeInterpreterStream
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    InternalServerError,
    ProtocolError,
    QwenCIError,
    RateLimitError,
    StreamInterruptedError,
)
from ._limiter import AdaptiveLimiter
from ._model_table import MODELS, ModelInfo, lookup_model
from ._result import CodeInterpreterResult, Completed, StreamEvent
from ._secret import Secret
from ._stages import StageTracker, stage_of
from ._types import (
    AnswerDelta,
    CodeRun,
    CodeRunUpdated,
    ReasoningDelta,
    Step,
    StreamStarted,
    Timings,
    Usage,
    UsageUpdated,
)
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveLimiter",
    "AnswerDelta",
    "AsyncCodeInterpreter",
    "AsyncCodeInterpreterStream",
    "AuthenticationError",
    "BadRequestError",
    "BatchOutcome",
    "BatchTask",
    "CodeInterpreter",
    "CodeInterpreterResult",
    "CodeInterpreterStream",
    "CodeRun",
    "CodeRunUpdated",
    "Completed",
    "ConfigurationError",
    "ContentFilterError",
    "InternalServerError",
    "MODELS",
    "ModelInfo",
    "ProtocolError",
    "QwenCIError",
    "RateLimitError",
    "ReasoningDelta",
    "Secret",
    "StageTracker",
    "Step",
    "StreamEvent",
    "StreamInterruptedError",
    "StreamStarted",
    "Timings",
    "Usage",
    "UsageUpdated",
    "__version__",
    "lookup_model",
    "stage_of",
]

# Public names report the package, not the private module they live in (as httpx does). A class's own
# annotations are resolved first, while its module is still known: typing.get_type_hints (and pydantic,
# cattrs, FastAPI, which call it) looks names up in the module that __module__ names.
_hints = _field = None  # deleted below, set or not
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("qwen_ci_tool._"):
        if isinstance(_obj, type) and "__annotations__" in vars(_obj):
            _hints = _typing.get_type_hints(_obj)
            _obj.__annotations__ = {k: _hints[k] for k in vars(_obj)["__annotations__"]}
            for _field in getattr(_obj, "__dataclass_fields__", {}).values():  # what pydantic reads
                _field.type = _hints[_field.name]
        with contextlib.suppress(AttributeError, TypeError):  # e.g. typing aliases
            _obj.__module__ = "qwen_ci_tool"
del _name, _obj, _hints, _field
