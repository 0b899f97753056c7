"""A local emulator of DashScope's Qwen code-interpreter endpoints, for tests, demos and benchmarks.

```python
from qwen_ci_tool.testing import Emulator, Fault, SEED_QUESTION

with Emulator() as emu:                       # 127.0.0.1, a free port, its own thread
    emu.add_fault(Fault.status(429, retry_after="0"))
    ...                                       # point any client at emu.base_url
```

It speaks the native text-generation and multimodal-generation paths, OpenAI-compatible Chat
Completions and the Responses API (also on its legacy path), serves the vendor's published
conversations byte for byte, replays recorded streams (``recording_path``) and injects faults
(:class:`Fault`). Standard library only; it never imports the rest of ``qwen_ci_tool``.
"""

from pathlib import Path as _Path

from ._conversations import (
    SEED_ANSWER,
    SEED_QUESTION,
    TWO_RUN_QUESTION,
    Answer,
    CodeRun,
    Conversation,
    Delta,
    Reasoning,
    synthetic_conversation,
)
from ._faults import FAULT_NAMES, Fault
from ._server import Emulator, RecordedRequest

__all__ = [  # noqa: RUF022 - plain sorted(), as the core package does
    "Answer",
    "CodeRun",
    "Conversation",
    "Delta",
    "Emulator",
    "FAULT_NAMES",
    "Fault",
    "Reasoning",
    "RecordedRequest",
    "SEED_ANSWER",
    "SEED_QUESTION",
    "TWO_RUN_QUESTION",
    "recording_path",
    "synthetic_conversation",
]

_RECORDINGS = _Path(__file__).parent / "recordings"


def recording_path(name: str) -> _Path:
    """The path of a shipped recording, by file name with or without ``.sse``.

    Recordings: ``native_seed``, ``native_two_runs``, ``openai_seed``, ``responses_seed``,
    ``multimodal_seed``.
    """
    path = _RECORDINGS / (name if name.endswith(".sse") else f"{name}.sse")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in _RECORDINGS.glob("*.sse")))
        raise FileNotFoundError(f"no recording named {name!r}; shipped recordings: {known}")
    return path


# Public names report this package, not the private module that defines them.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(__name__ + "._"):
        _obj.__module__ = __name__
del _name, _obj
