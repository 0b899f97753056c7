"""A local emulator of DashScope's Qwen code-interpreter endpoints, for tests, demos and benchmarks.

```python
from qwen_ci_tool.testing import Emulator, Fault, SEED_QUESTION

with Emulator() as emu:                       # 127.0.0.1, a free port, its own thread
    emu.add_fault(Fault.status(429, retry_after="0"))
    ...                                       # point any client at emu.base_url
```

It speaks the native text-generation and multimodal-generation paths, OpenAI-compatible Chat
Completions and the Responses API (also on its legacy path), serves the vendor's published
conversations byte for byte, replays any stream you give it (``Emulator.replay``) and injects faults
(:class:`Fault`). Standard library only; it never imports the rest of ``qwen_ci_tool``.
"""

import typing as _typing
from pathlib import Path as _Path

from ._conversations import synthetic_conversation
from ._faults import FAULT_NAMES, Fault
from ._script import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Answer, CodeSegment, Conversation, Delta, Reasoning
from ._server import Emulator, RecordedRequest

__all__ = [
    "Answer",
    "CodeSegment",
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
    "emulator_stream_path",
    "synthetic_conversation",
]

_EMULATOR_MADE = _Path(__file__).parent / "emulator_made"


def emulator_stream_path(name: str) -> _Path:
    """The path of a stream this emulator made and the package ships, by name (``.sse`` optional).

    These are the emulator's own output for the seed conversations, kept as files so other tools
    can replay them (``Emulator.replay``) or parse them; they are not captures of the live service
    (the tests check that the emulator still serves each one byte for byte). Names:
    ``native_seed``, ``native_two_runs``, ``openai_seed``, ``responses_seed``, ``multimodal_seed``.
    """
    path = _EMULATOR_MADE / (name if name.endswith(".sse") else f"{name}.sse")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in _EMULATOR_MADE.glob("*.sse")))
        raise FileNotFoundError(f"no emulator-made stream named {name!r}; shipped: {known}")
    return path


# Public names report this package, not the private module that defines them. A class's own annotations are
# resolved first, while its module is still known (typing.get_type_hints looks names up where __module__ says).
_hints = _field = None  # deleted below, set or not
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(__name__ + "._"):
        if isinstance(_obj, type) and "__annotations__" in vars(_obj):
            _hints = _typing.get_type_hints(_obj)
            _obj.__annotations__ = {k: _hints[k] for k in vars(_obj)["__annotations__"]}
            for _field in getattr(_obj, "__dataclass_fields__", {}).values():  # what pydantic reads
                _field.type = _hints[_field.name]
        _obj.__module__ = __name__
del _name, _obj, _hints, _field
