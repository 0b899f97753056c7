"""CLI behaviours only `make mutate KINDS=names` broke (issue 26, continued). Each test fails with its break."""

from __future__ import annotations

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool.cli.batch import read_tasks


def test_an_input_with_many_bad_lines_lists_the_first_twenty_and_counts_the_rest() -> None:
    with pytest.raises(ConfigurationError) as info:
        read_tasks(["not json"] * 25)
    message = str(info.value)
    assert "INPUT has 25 problems; nothing was sent." in message
    assert "line 20" in message and "line 21" not in message
    assert message.rstrip().endswith("... and 5 more")
