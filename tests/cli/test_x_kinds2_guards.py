"""CLI behaviours only `make mutate KINDS=names` broke (issue 26): numbers on the batch status line said as a
person reads them. Each test fails with its break."""

from __future__ import annotations

from qwen_ci_tool import AdaptiveLimiter
from qwen_ci_tool.cli.batch import Progress


def test_the_batch_status_line_says_tokens_with_thousands_separators_and_the_paced_rate_to_three_digits() -> None:
    progress = Progress(total=2, started_at=0.0)
    progress.tokens["total_tokens"] = 12345
    limiter = AdaptiveLimiter(4)
    limiter.rate = 1 / 3
    line = progress.bar(10.0, limiter)
    assert "· 12,345 tokens ·" in line
    assert "(rate-limited: starts paced at 0.333/s)" in line


def test_a_finished_tasks_log_line_and_the_summary_say_tokens_with_separators_and_seconds_to_one_decimal() -> None:
    from qwen_ci_tool import BatchOutcome, CodeInterpreterResult

    usage = {"input_tokens": 1000, "output_tokens": 2345, "reasoning_tokens": 1500, "total_tokens": 3345}
    usage["code_interpreter_calls"] = 1200
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "42",
            "protocol": "dashscope",
            "status": "completed",
            "usage": usage,
            "timings": {"total_time": 2.25},
        }
    )
    progress = Progress(total=1, started_at=0.0)
    outcome = BatchOutcome(id="t1", status="completed", result=result)
    progress.add(outcome)
    assert progress.line(outcome).endswith("· 3,345 tokens · 2.2 s")
    summary = progress.summary(10.0)
    assert "Tokens: 1,000 input, 2,345 output (1,500 of them reasoning), 3,345 total; 1,200 interpreter runs" in summary
