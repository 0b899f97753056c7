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
