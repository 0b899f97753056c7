"""Lines audit 12 found no test held (issue 26): a finished run's record says its stage is ``done``, and a
run store URL whose password holds an ``@`` is shown without any of the password. Each fails with its break."""

from __future__ import annotations

import anyio
import pytest

from mcp_server import create_server
from mcp_server.runs import MemoryRunStore, RunRecord, shown_url
from qwen_ci_tool.testing import SEED_ANSWER, Emulator

from ..conftest import PLANTED_KEY
from .test_tool import call, text_of

pytestmark = pytest.mark.anyio


class _Recorded(MemoryRunStore):
    """A memory store that keeps every record written to it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[RunRecord] = []

    async def put(self, record: RunRecord) -> None:
        self.written.append(record)
        await super().put(record)


async def test_a_finished_runs_record_says_done_not_the_last_stage_it_worked_in() -> None:
    # Break (m09): the final record's `stage="done"` -> `stage=run.record.stage` ("answering" stays).
    store = _Recorded()
    with Emulator() as emu, anyio.fail_after(20):
        answer = await call(create_server(api_key=PLANTED_KEY, base_url=emu.base_url, run_store=store))
    assert SEED_ANSWER in text_of(answer)
    final = store.written[-1]
    assert (final.state, final.stage, final.message) == ("finished", "done", "done")
    assert any(record.stage == "answering" for record in store.written[:-1])  # it did pass through work stages


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://app:p@ssw0rd@redis.example:6379/0", "redis://app:***@redis.example:6379/0"),
        ("rediss://:a@b@c@cache.internal/1", "rediss://:***@cache.internal/1"),
        (
            "redis://app:pa:ss@redis.example:6379/0",
            "redis://app:***@redis.example:6379/0",
        ),  # the user ends at the 1st ":"
    ],
    ids=["one-at", "two-ats", "colon"],
)
def test_a_password_holding_an_at_sign_or_a_colon_is_hidden_whole(url: str, shown: str) -> None:
    # Break (m11): `netloc.rpartition("@")` -> `partition("@")` showed what follows the password's first "@".
    assert shown_url(url) == shown
