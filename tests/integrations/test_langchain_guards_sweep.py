"""Promises of CodeInterpreterRunnable's other entry points, each pinned by a test that fails when its line of
integrations/langchain.py breaks (found by the mutation sweep)."""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
from langchain_core.callbacks import BaseCallbackHandler

from integrations._langchain_fold import StageEvents
from qwen_ci_tool import AnswerDelta, Completed, StreamStarted
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..core.test_explain_guards import cut_off
from .test_langchain_runnable import make_runnable

MESSAGES = [("system", "Be brief."), ("human", SEED_QUESTION)]
SENT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": SEED_QUESTION}]


def sent(emulator: Emulator) -> Any:
    return emulator.requests[-1].json["input"]["messages"]


async def test_ainvoke_stream_and_astream_send_the_whole_message_list(emulator: Emulator) -> None:
    runnable = make_runnable(emulator)
    with anyio.fail_after(60):
        await runnable.ainvoke(MESSAGES)
        assert sent(emulator) == SENT
        list(runnable.stream(MESSAGES))
        assert sent(emulator) == SENT
        [chunk async for chunk in runnable.astream(MESSAGES)]
        assert sent(emulator) == SENT


class _Runs(BaseCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    def on_chain_start(self, serialized: Any, inputs: Any, *, name: str | None = None, **kwargs: Any) -> None:
        self.names.append(str(name or kwargs.get("run_name")))


async def test_every_entry_point_runs_under_the_config_it_was_given(emulator: Emulator) -> None:
    runnable = make_runnable(emulator)
    runs = _Runs()
    with anyio.fail_after(60):
        runnable.invoke(SEED_QUESTION, {"run_name": "by-invoke", "callbacks": [runs]})
        await runnable.ainvoke(SEED_QUESTION, {"run_name": "by-ainvoke", "callbacks": [runs]})
        list(runnable.stream(SEED_QUESTION, {"run_name": "by-stream", "callbacks": [runs]}))
    assert runs.names == ["by-invoke", "by-ainvoke", "by-stream"]


def test_the_done_stage_carries_the_results_own_status() -> None:
    # audit 6's g03: an answer cut off (or filtered) must not be announced as completed.
    stages = StageEvents()
    stages.feed(StreamStarted("rid-1", "qwen3-max", "dashscope"))
    stages.feed(AnswerDelta("4"))
    done = stages.feed(Completed(dataclasses.replace(cut_off(), request_id="rid-2")))
    assert done is not None and done["stage"] == "done"
    assert done["status"] == "incomplete" and done["request_id"] == "rid-2"
