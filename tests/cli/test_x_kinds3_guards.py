"""CLI behaviours only `make mutate KINDS=names` broke (issue 26, continued). Each test fails with its break."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qwen_ci_tool import AdaptiveLimiter, BatchOutcome, ConfigurationError, InternalServerError
from qwen_ci_tool.cli.batch import Progress, _Run, read_tasks
from qwen_ci_tool.cli.batch_output import open_output


def test_the_slow_down_line_of_a_batch_says_the_new_rate_to_three_digits(tmp_path: Path) -> None:
    limiter = AdaptiveLimiter(4)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.3)  # one cut: to 95% of 1/0.3 s
    source = tmp_path / "in.jsonl"
    source.write_text("", encoding="utf-8")
    output, err = open_output(str(tmp_path / "out.jsonl"), io.StringIO(), str(source)), io.StringIO()
    run = _Run(Progress(1, 0.0), limiter, output, {}, err, tty=False)

    run.record(BatchOutcome("a", "failed", error=InternalServerError("boom", status_code=500)))
    output.close()

    assert (
        "rate-limited by the service: starts now paced at 3.17/s (throttled tasks are sent again)\n" in err.getvalue()
    )


def test_an_input_with_many_bad_lines_lists_the_first_twenty_and_counts_the_rest() -> None:
    with pytest.raises(ConfigurationError) as info:
        read_tasks(["not json"] * 25)
    message = str(info.value)
    assert "INPUT has 25 problems; nothing was sent." in message
    assert "line 20" in message and "line 21" not in message
    assert message.rstrip().endswith("... and 5 more")
