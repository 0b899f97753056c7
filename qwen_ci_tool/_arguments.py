"""What a model reads when a tool call's arguments do not fit the tool: one rule for the MCP and LangChain tools.

Both tools validate their arguments with pydantic (the SDKs' own schemas). :func:`invalid_arguments`
turns its errors (``ValidationError.errors()``: plain dicts, so the core needs no pydantic) into a
:class:`ConfigurationError` that names each argument, says what was wrong (never echoing the value)
and what is allowed, and how to call again; each face tells it as its other failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import _constants as C
from ._exceptions import ConfigurationError

__all__ = ["QUESTION_ALLOWED", "invalid_arguments"]

#: What ``question`` may be, on every tool that takes one.
QUESTION_ALLOWED = (
    f"the task in natural language, as a non-empty string of at most {C.MAX_INPUT_CHARS:,} characters "
    "(e.g. 'What is 123 to the power of 21?')"
)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _problem(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    value = error.get("input")
    if kind == "missing":
        return "is missing"
    if kind == "string_too_short":
        return "is empty"
    if kind == "string_unicode":
        return "is not valid text (a lone surrogate, what an undecodable byte becomes)"
    if kind == "string_too_long" and isinstance(value, str):
        return f"has {len(value):,} characters, too many"
    if kind.endswith(("_type", "_parsing")):
        return f"is {_json_kind(value)}, the wrong type"
    return f"was refused ({error.get('msg', kind)})"


def invalid_arguments(tool: str, errors: Iterable[Mapping[str, Any]], allowed: Mapping[str, str]) -> ConfigurationError:
    """The error for a call of *tool* whose arguments failed validation (*errors*: pydantic's
    error dicts); *allowed* says, per argument name, what it may be."""
    sentences: list[str] = []
    names: list[str] = []
    for error in errors:
        name = ".".join(str(part) for part in error.get("loc", ())) or "the arguments"
        if name in names:
            continue
        names.append(name)
        what = allowed.get(name.split(".")[0])
        sentences.append(f"`{name}` {_problem(error)}" + (f": it must be {what}." if what else "."))
    fixed = ", ".join(f"`{name}`" for name in names)
    return ConfigurationError(
        f"The call's arguments are invalid, so nothing was sent to Qwen and nothing was billed. {' '.join(sentences)} "
        f"Fix: call {tool} again with {fixed} corrected."
    )
