"""Every row of the fault matrix through the public Python API, sync and async."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from qwen_ci_tool import APITimeoutError, AsyncCodeInterpreter, CodeInterpreter, QwenCIError
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from .fault_matrix import ROWS, Row, markdown_table


pytestmark = pytest.mark.usefixtures("no_backoff")


def client_settings(row: Row, emu: Emulator, mode: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"api_key": "sk-test", "max_retries": 1, "base_url": emu.base_url, **row.settings}
    if row.base_url is not None:
        settings["base_url"] = row.base_url(emu)
    if row.transport_error is not None:
        error = row.transport_error

        def handler(request: httpx.Request) -> httpx.Response:
            raise error

        transport = httpx.MockTransport(handler)
        settings["http_client"] = httpx.Client(transport=transport) if mode == "sync" else httpx.AsyncClient(transport=transport)
    return settings


async def call(row: Row, emu: Emulator, mode: str) -> Any:
    settings = client_settings(row, emu, mode)
    if mode == "sync":
        with CodeInterpreter(**settings) as ci:
            return ci.run(SEED_QUESTION)
    async with AsyncCodeInterpreter(**settings) as aci:
        return await aci.run(SEED_QUESTION)


def check_outcome(row: Row, outcome: Any, emu: Emulator) -> None:
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
        if row.request_id and row.attempts:
            assert outcome.request_id, "the request id the server sent is kept"
    assert len(emu.requests) == row.attempts, [r.path for r in emu.requests]
    assert emu.wait_for_connections(0, timeout=5), "the connection was released"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_each_fault_ends_in_the_documented_outcome(row: Row, mode: str, emu: Emulator) -> None:
    if row.arrange is not None:
        row.arrange(emu)
    with anyio.fail_after(20):
        try:
            outcome: Any = await call(row, emu, mode)
        except QwenCIError as err:
            outcome = err
    check_outcome(row, outcome, emu)


def test_the_readme_fault_table_is_the_matrix() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme
