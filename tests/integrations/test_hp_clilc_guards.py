"""Hand breaks of the LangChain tool and Runnable (issue 26, hp-clilc): each test fails with the break named in it."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import anyio
import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.tools import ToolException

from integrations.langchain import STAGE_EVENT
from qwen_ci_tool import AuthenticationError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ._helpers import make_tool


def test_a_failure_raised_as_a_tool_exception_keeps_the_service_error_as_its_cause(emulator: Emulator) -> None:
    # Break: `raise fail(...) from err` -> `from None` - an application that lets the ToolException through
    # (handle_tool_error=False) could no longer reach the core error (its class, .retryable, .partial).
    emulator.add_fault(Fault.status(401))
    tool = make_tool(emulator, handle_tool_error=False)
    with pytest.raises(ToolException) as caught:
        tool.invoke({"question": SEED_QUESTION})
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert caught.value.__cause__.retryable is False


class _LoopRecorder(AsyncCallbackHandler):
    """An async handler that records the event loop each stage event reached it in."""

    def __init__(self) -> None:
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if name == STAGE_EVENT:
            self.loops.append(asyncio.get_running_loop())


async def test_an_awaited_tool_sends_its_stages_to_async_handlers_in_the_callers_event_loop(
    emulator: Emulator,
) -> None:
    # Break: `_arun` dispatching with the sync `dispatch(stage)` - langchain-core then ran the async handler
    # in a helper thread's own loop, blocking the caller's: an application's asyncio.Queue fed from the
    # handler would be touched from another loop.
    handler = _LoopRecorder()
    with anyio.fail_after(20):
        await make_tool(emulator).ainvoke({"question": SEED_QUESTION}, config={"callbacks": [handler]})
    assert handler.loops and set(handler.loops) == {asyncio.get_running_loop()}
