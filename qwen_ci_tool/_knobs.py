"""How a hint names a setting, so that a hint written once names the right knob on every face.

Hints (written in :mod:`qwen_ci_tool._errors`) are plain text that names settings by placeholder:
``{idle_timeout}`` for the setting, ``{region:singapore}`` for the setting with a value, ``{api_key}`` for where the
key goes (``{api_key:argument}``: the key given as an argument), ``{emulator}`` for the "try it without a key"
sentence (empty where there is none).
A :class:`Knobs` renders them for one face: :data:`PYTHON` (keyword arguments) here, and each face
its own (``qwen_ci_tool.cli.flags.CLI``, ``mcp_server._texts.MCP``,
``integrations._langchain_fold.LANGCHAIN``); :func:`flag` is the spelling both command lines
(``qwen-ci``, ``qwen-ci-mcp``) share.
Rendering is one substitution: ``grep -rn '{idle_timeout}'`` finds every hint naming the idle timeout.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ._constants import ENV_API_KEY

__all__ = ["PYTHON", "Knobs", "flag", "keyword"]

#: A placeholder in a hint (``{idle_timeout}``, ``{region:singapore}``), or an escaped brace.
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}|\{\{|\}\}")


def keyword(setting: str, value: str = "") -> str:
    """A setting as a keyword argument: ``region='singapore'``, ``idle_timeout=600``."""
    if not value:
        return setting
    try:
        float(value)
    except ValueError:
        return f"{setting}={value!r}"
    return f"{setting}={value}"


def flag(setting: str, value: str = "") -> str:
    """A setting as a flag: ``idle_timeout`` -> ``--idle-timeout``; with a value, ``--region singapore``."""
    name = "--" + setting.replace("_", "-")
    return f"{name} {value}" if value else name


@dataclass(frozen=True)
class Knobs:
    """One face's spelling of the settings a hint may name: ``setting(name, value)`` spells one."""

    api_key: str
    emulator: str = ""
    setting: Callable[..., str] = keyword
    #: The key given as an argument (``api_key=``), where this face takes one.
    key_argument: str = "the api_key= argument"
    #: Words ``setting`` puts before every setting ("the server argument "), and their plural: two settings
    #: side by side say them once ("the server arguments --model and --protocol").
    lead: tuple[str, str] | None = None

    def render(self, hint: str) -> str:
        """*hint* with each ``{name}`` / ``{name:value}`` spelt for this face (``{{`` and ``}}``
        stand for literal braces, e.g. in a model name)."""
        text = _PLACEHOLDER.sub(lambda m: self._spell(m[1], m[2] or "") if m[1] else m[0][0], hint)
        if self.lead is not None:
            one, many = self.lead
            pair = re.compile(rf"{re.escape(one)}(\S+(?: [\w.-]+)?) (and|or) {re.escape(one)}")
            text = pair.sub(lambda m: f"{many if m[2] == 'and' else one}{m[1]} {m[2]} ", text)
        return text

    def _spell(self, name: str, value: str) -> str:
        if name == "api_key":
            return self.key_argument if value == "argument" else self.api_key
        if name == "emulator":
            return self.emulator
        return self.setting(name, value)


#: The Python API: keyword arguments of the clients.
PYTHON = Knobs(
    f"{ENV_API_KEY} (or pass api_key=)",
    " To try it without a key, point base_url at the local emulator (qwen_ci_tool.testing.Emulator).",
)
