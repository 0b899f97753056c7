"""How each surface spells a setting, so that a hint written once names the right knob everywhere.

Hints (written in :mod:`qwen_ci_tool._errors`) are plain text that names settings by placeholder:
``{idle_timeout}`` for the setting, ``{region:singapore}`` for the setting with a value, ``{api_key}`` for where the
key goes, ``{emulator}`` for the "try it without a key" sentence (empty where there is none).
A :class:`Knobs` renders them: Python keywords for the library, flags for ``qwen-ci``, the server's
configuration for ``qwen-ci-mcp``, constructor arguments for the LangChain tool. Rendering is one
substitution (no format specs, no ``str.format``): ``grep -rn '{idle_timeout}'`` finds every hint
that names the idle timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._constants import ENV_API_KEY

__all__ = ["CLI", "LANGCHAIN", "MCP", "PYTHON", "Knobs", "flag"]

#: A placeholder in a hint (``{idle_timeout}``, ``{region:singapore}``), or an escaped brace.
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}|\{\{|\}\}")


def flag(setting: str) -> str:
    """The command-line flag of a setting: ``idle_timeout`` -> ``--idle-timeout``."""
    return "--" + setting.replace("_", "-")


def _keyword(setting: str, value: str) -> str:
    if not value:
        return setting
    try:
        float(value)
    except ValueError:
        return f"{setting}={value!r}"
    return f"{setting}={value}"


def _flag(setting: str, value: str) -> str:
    return f"{flag(setting)} {value}" if value else flag(setting)


def _server_arg(setting: str, value: str) -> str:
    return f"the server argument {_flag(setting, value)}"


@dataclass(frozen=True)
class Knobs:
    """One surface's spelling of the settings a hint may name."""

    style: str  # "keyword", "flag" or "server"
    api_key: str
    emulator: str = ""

    def setting(self, name: str, value: str = "") -> str:
        if self.style == "flag":
            return _flag(name, value)
        if self.style == "server":
            return _server_arg(name, value)
        return _keyword(name, value)

    def render(self, hint: str) -> str:
        """*hint* with each ``{name}`` / ``{name:value}`` spelt for this surface (``{{`` and ``}}``
        stand for literal braces, e.g. in a model name)."""
        return _PLACEHOLDER.sub(lambda m: self._spell(m[1], m[2] or "") if m[1] else m[0][0], hint)

    def _spell(self, name: str, value: str) -> str:
        if name == "api_key":
            return self.api_key
        if name == "emulator":
            return self.emulator
        return self.setting(name, value)


#: The Python API: keyword arguments of the clients.
PYTHON = Knobs(
    "keyword",
    api_key=f"{ENV_API_KEY} (or pass api_key=)",
    emulator=" To try it without a key, point base_url at the local emulator (qwen_ci_tool.testing.Emulator).",
)
#: ``qwen-ci``: command-line flags.
CLI = Knobs(
    "flag",
    api_key=f"the {ENV_API_KEY} environment variable (export {ENV_API_KEY}=sk-...)",
    emulator=" To try the tool without a key, add --emulator (the local emulator).",
)
#: ``qwen-ci-mcp``: the server's entry in the MCP client's configuration ("args" and "env").
MCP = Knobs(
    "server",
    api_key=f'{ENV_API_KEY} in the "env" block of this server\'s entry in the MCP client configuration',
)
#: The LangChain tool and Runnable: constructor arguments.
LANGCHAIN = Knobs("keyword", api_key=f"api_key= (or {ENV_API_KEY})")
