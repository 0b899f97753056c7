"""Behaviours of the MCP server that breaks no mutation tool makes left unguarded (issue 26, helper hp-mcp's hand
pass): a default replaced by another constant, a format spec, a loop's ``break``/``continue``, a content type.
Each test fails with its break."""

from __future__ import annotations

import re

import pytest

from mcp_server.__main__ import build_parser
from qwen_ci_tool._config import SETTINGS

pytestmark = pytest.mark.anyio


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_every_default_the_help_of_qwen_ci_mcp_states_is_the_value_it_uses_when_the_flag_is_absent() -> None:
    parser = build_parser()
    parsed = vars(parser.parse_args([]))
    stated = {}
    for action in parser._actions:
        said = re.search(r"\(default ([^;)]+)|default: (\w+)", action.help or "")
        # the core's settings default to None here (the core resolves them): tests/test_setting_flags.py
        if said is not None and action.dest in parsed and action.dest not in SETTINGS:
            stated[action.dest] = said.group(1) or said.group(2)
    assert stated == {dest: _shown(parsed[dest]) for dest in stated}
    # every flag whose help names a default is checked (a help rewording must not drop one silently)
    assert set(stated) >= {
        "transport",
        "host",
        "port",
        "max_concurrency",
        "max_output_chars",
        "max_wait",
        "result_ttl",
        "shutdown_grace",
    }
