"""The shutdown grace's split (found by ``make mutate KINDS=more``'s clamp kind): runs keep all but a quarter of a
short grace, and all but :data:`MAX_RESERVE` seconds of a long one."""

from __future__ import annotations

import anyio
import pytest

from mcp_server.runs.deadline import MAX_RESERVE, Deadline


@pytest.mark.parametrize(("grace", "runs_grace"), [(2.0, 1.5), (12.0, 9.0), (60.0, 60.0 - MAX_RESERVE), (0.0, 0.0)])
async def test_runs_get_the_grace_less_a_quarter_of_it_and_at_most_the_reserve(grace: float, runs_grace: float) -> None:
    deadline = Deadline(grace)
    assert deadline.runs_grace == pytest.approx(runs_grace)
    assert deadline.runs_end - deadline.end == pytest.approx(runs_grace - grace)
    assert 0.0 <= deadline.runs_left() <= runs_grace and deadline.runs_end <= anyio.current_time() + runs_grace
