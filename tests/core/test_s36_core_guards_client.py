"""The clients' resources (qwen_ci_tool._client), session 36's hand sweep: a finished sync call leaves no deadline
watch armed on its (pooled) socket, closing a client closes only what it owns, and a closed client makes a new
connection pool on its next call; each test fails with the one-line break in its docstring."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qwen_ci_tool import AsyncCodeInterpreter, CodeInterpreter
from qwen_ci_tool import _constants as C
from qwen_ci_tool._client import _CappedBody
from qwen_ci_tool._watchdog import WATCHDOG, Watch
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator


def test_a_finished_sync_call_leaves_no_deadline_watch_armed_on_its_socket(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`watchdog.cancel()` dropped from the sync attempt's `finally` (the pooled socket is shut down at the old
    call's deadline, under whichever call reuses it; every watch is held until then)."""
    watches: list[Watch | None] = []
    watch = WATCHDOG.watch

    def recorded(*args: Any) -> Watch | None:
        watches.append(watch(*args))
        return watches[-1]

    monkeypatch.setattr(WATCHDOG, "watch", recorded)
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        assert SEED_ANSWER in ci.run(SEED_QUESTION).answer
        assert SEED_ANSWER in ci.run(SEED_QUESTION).answer
    assert len(watches) == 2 and all(w is not None and not w.active for w in watches)


def test_a_closed_sync_client_answers_again_on_a_new_connection_pool(emu: Emulator) -> None:
    """`self._http = None` dropped from `close()` (the next call goes to the closed httpx client and fails)."""
    ci = CodeInterpreter(api_key="sk-test", base_url=emu.base_url)
    ci.run(SEED_QUESTION)
    ci.close()
    assert SEED_ANSWER in ci.run(SEED_QUESTION).answer
    ci.close()


def test_closing_a_sync_client_leaves_the_callers_http_client_open(emu: Emulator) -> None:
    """`self._owns_http and` dropped from `close()` (the caller's httpx client is closed under it)."""
    with httpx.Client() as http:
        with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, http_client=http) as ci:
            ci.run(SEED_QUESTION)
        assert not http.is_closed


async def test_a_closed_async_client_answers_again_on_a_new_connection_pool(emu: Emulator) -> None:
    """`self._http = None` dropped from `aclose()`."""
    aci = AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url)
    await aci.run(SEED_QUESTION)
    await aci.aclose()
    assert SEED_ANSWER in (await aci.run(SEED_QUESTION)).answer
    await aci.aclose()


async def test_closing_an_async_client_leaves_the_callers_http_client_open(emu: Emulator) -> None:
    """`self._owns_http and` dropped from `aclose()`."""
    async with httpx.AsyncClient() as http:
        async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url, http_client=http) as aci:
            await aci.run(SEED_QUESTION)
        assert not http.is_closed


def test_an_error_body_is_kept_only_up_to_its_cap() -> None:
    """`_CappedBody.value()`: `self._body[: MAX_ERROR_BODY_BYTES]` -> `self._body` (the last chunk's excess kept)."""
    body = _CappedBody()
    assert body.add(b"x" * (C.MAX_ERROR_BODY_BYTES - 1)) is False
    assert body.add(b"yyyy") is True
    assert body.value() == b"x" * (C.MAX_ERROR_BODY_BYTES - 1) + b"y"
