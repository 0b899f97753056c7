"""Each setting's command-line flag, defined once, help text included.

``qwen-ci`` (every command that calls the service) and ``qwen-ci-mcp`` add the same flags with
:func:`add_setting_flags` and read them back with :func:`settings_from`, so a setting gets a
flag, a type, choices and a help line in one place.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _constants as C
from .._config import PROTOCOL_NAMES
from .._protocols import describe_protocols

__all__ = ["SETTING_FLAGS", "SettingFlag", "add_setting_flags", "settings_from"]


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


SETTING_FLAGS: tuple[SettingFlag, ...] = (
    SettingFlag(
        "--protocol",
        f"wire protocol (default {C.DEFAULT_PROTOCOL}; {describe_protocols()})",
        choices=PROTOCOL_NAMES,
    ),
    SettingFlag("--model", f"model name (default {C.DEFAULT_MODEL}; any name is passed through)"),
    SettingFlag(
        "--base-url",
        f"service root, e.g. {C.REGION_ROOTS[C.DEFAULT_REGION]} (default: {C.ENV_BASE_URL}, else the "
        "region's); overrides --region",
    ),
    SettingFlag(
        "--region", f"pick the service root by region (default {C.DEFAULT_REGION})", choices=tuple(C.REGION_ROOTS)
    ),
    SettingFlag("--connect-timeout", f"seconds to connect (default {C.DEFAULT_CONNECT_TIMEOUT:g})", float),
    SettingFlag(
        "--idle-timeout",
        f"longest silence in seconds, e.g. while the remote code runs (default {C.DEFAULT_IDLE_TIMEOUT:g})",
        float,
    ),
    SettingFlag(
        "--total-timeout", f"deadline in seconds for a whole call (default {C.DEFAULT_TOTAL_TIMEOUT:g})", float
    ),
    SettingFlag("--max-retries", f"retries before the first event (default {C.DEFAULT_MAX_RETRIES})", int),
)


def add_setting_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add every setting's flag (default ``None``: the client's own default applies)."""
    for f in SETTING_FLAGS:
        parser.add_argument(f.flag, type=f.type, choices=f.choices, help=f.help)


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The client settings the flags gave (``None`` where not given)."""
    return {f.setting: getattr(args, f.setting) for f in SETTING_FLAGS}
