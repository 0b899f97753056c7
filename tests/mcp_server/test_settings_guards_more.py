"""Server settings of the wrong type are refused when the server is built, as values out of range are: a
boolean is no count or number of seconds, a string is no number (issue 26, KINDS=more)."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server import create_server
from qwen_ci_tool import ConfigurationError

from ..conftest import PLANTED_KEY


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_wait": True}, "max_wait must be a number of seconds >= 0, and finite"),
        ({"max_wait": "5"}, "max_wait must be a number of seconds >= 0, and finite"),
        ({"result_ttl": False}, "result_ttl must be a number of seconds > 0, and finite"),
        ({"result_ttl": "60"}, "result_ttl must be a number of seconds > 0, and finite"),
        ({"max_concurrency": True}, "max_concurrency must be an integer >= 1"),
        ({"max_output_chars": "4000"}, "max_output_chars must be an integer >= 2000"),
    ],
)
def test_a_setting_of_the_wrong_type_is_refused_naming_it(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_server(api_key=PLANTED_KEY, **options)
