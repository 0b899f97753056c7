"""Each setting's command-line flag, derived from the settings table (:data:`qwen_ci_tool._config.SETTINGS`).

``qwen-ci`` (every command that calls the service) and ``qwen-ci-mcp`` add the same flags with
:func:`add_setting_flags` and read them back with :func:`settings_from`: a setting's flag, type,
choices and help line come from its one line in the table. :data:`CLI` renders hints in flags.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._config import SETTINGS, Setting
from .._constants import ENV_API_KEY
from .._knobs import Knobs, flag

__all__ = ["CLI", "SETTING_FLAGS", "SettingFlag", "add_setting_flags", "settings_from"]


#: ``qwen-ci`` and ``qwen-ci-mcp``'s own command line: hints name flags.
CLI = Knobs(
    f"the {ENV_API_KEY} environment variable (export {ENV_API_KEY}=sk-...)",
    " To try the tool without a key, add --emulator (the local emulator).",
    flag,
)


@dataclass(frozen=True)
class SettingFlag:
    flag: str
    help: str
    type: Callable[[str], Any] = str
    choices: Sequence[str] | None = None

    @property
    def setting(self) -> str:
        """The keyword the clients take: ``--idle-timeout`` -> ``idle_timeout``."""
        return self.flag[2:].replace("-", "_")


def _flag(row: Setting) -> SettingFlag:
    # Values are checked by the library (nan, inf, 0 included), which names the fix in flag terms.
    return SettingFlag(flag(row.name), f"{row.help}; env {row.env}", row.kind, row.choices)


SETTING_FLAGS: tuple[SettingFlag, ...] = tuple(_flag(row) for row in SETTINGS.values() if row.face)


def add_setting_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add every setting's flag (default ``None``: the environment, else the client's default, applies)."""
    for f in SETTING_FLAGS:
        parser.add_argument(f.flag, type=f.type, choices=f.choices, help=f.help)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The client settings the flags gave (``None`` where not given)."""
    return {f.setting: getattr(args, f.setting) for f in SETTING_FLAGS}
