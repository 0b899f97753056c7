"""Every row of the fault matrix through the public Python API, sync and async."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from benchmarks.readme import README
from qwen_ci_tool import APITimeoutError, AsyncCodeInterpreter, CodeInterpreter, QwenCIError
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from .conftest import FakeClock
from .fault_matrix import BEGIN, END, ROWS, Row, check_requests, check_waits, failing_handler, readme_section


def client_settings(row: Row, emu: Emulator, mode: str, calls: list[httpx.Request]) -> dict[str, Any]:
    settings: dict[str, Any] = {"api_key": "sk-test", "max_retries": 1, "base_url": emu.base_url, **row.settings}
    if row.base_url is not None:
        settings["base_url"] = row.base_url(emu)
    if row.transport_error is not None:
        transport = httpx.MockTransport(failing_handler(row, calls))
        settings["http_client"] = (
            httpx.Client(transport=transport) if mode == "sync" else httpx.AsyncClient(transport=transport)
        )
    return settings


def check_partial(row: Row, outcome: Any) -> None:
    """A partial keeps what the call cost and where it came from, not just the text."""
    partial = outcome.partial
    assert partial.status == "incomplete"
    if row.settings.get("protocol", "dashscope") == "dashscope":  # the others send usage only at the end
        assert partial.usage.total_tokens > 0 and partial.usage.input_tokens > 0, partial.usage
    assert partial.request_id and partial.request_id == outcome.request_id, (partial.request_id, outcome.request_id)


async def call(row: Row, emu: Emulator, mode: str, calls: list[httpx.Request]) -> Any:
    settings = client_settings(row, emu, mode, calls)
    if mode == "sync":
        with CodeInterpreter(**settings) as ci:
            return ci.run(SEED_QUESTION)
    async with AsyncCodeInterpreter(**settings) as aci:
        return await aci.run(SEED_QUESTION)


def check_outcome(row: Row, outcome: Any, emu: Emulator, calls: list[httpx.Request], clock: FakeClock) -> None:
    if row.error is None:
        assert not isinstance(outcome, BaseException), outcome
        assert outcome.status == row.status and outcome.answer
        if row.status == "completed":
            assert SEED_ANSWER in outcome.answer
    else:
        assert type(outcome) is row.error, repr(outcome)
        assert (outcome.partial is not None) == row.partial, outcome.partial
        assert outcome.retryable is row.retryable, "whether calling again may help is the row's"
        if row.kind:
            assert isinstance(outcome, APITimeoutError) and outcome.kind == row.kind
        if row.request_id:
            assert outcome.request_id, "the request id the server sent is kept"
        else:
            assert outcome.request_id is None, outcome.request_id
        if row.partial:
            check_partial(row, outcome)
    check_requests(row, emu, calls)
    check_waits(row, clock.sleeps)
    assert emu.wait_for_connections(0, timeout=5), "the connection was released"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_each_fault_ends_in_the_documented_outcome(
    row: Row, mode: str, emu: Emulator, fake_clock: FakeClock
) -> None:
    if row.arrange is not None:
        row.arrange(emu)
    calls: list[httpx.Request] = []
    with anyio.fail_after(20):
        try:
            outcome: Any = await call(row, emu, mode, calls)
        except QwenCIError as err:
            outcome = err
    check_outcome(row, outcome, emu, calls, fake_clock)


def test_the_readme_fault_section_is_exactly_what_the_matrix_renders() -> None:
    """Regenerate the section and compare the whole of it; fix with `make docs`."""
    readme = README.read_text(encoding="utf-8")
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1, "the README keeps the fault-matrix markers once each"
    section = BEGIN + readme.split(BEGIN, 1)[1].split(END, 1)[0] + END
    assert section == readme_section(), "README fault matrix is stale: run `make docs`"
    after = readme.split(END, 1)[1].lstrip("\n")
    assert not after.startswith("|"), "no table rows after the generated section"
