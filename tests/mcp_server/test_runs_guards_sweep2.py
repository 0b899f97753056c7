"""Guards from the second mutation sweep of ``mcp_server/runs`` (results, the choice of run store) and of the
HTTP exchange (issue 26); the Redis store and the link: ``test_redis_guards_sweep.py``.

Each test names the behaviour a one-line break of the library would lose; the break it was checked
against is in its comment.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence

import anyio
import pytest
from mcp.types import CallToolResult

from mcp_server import create_server, server_runtime
from mcp_server._fit import MAX_RESULT_BYTES, size_of
from mcp_server._requests import current_exchange
from mcp_server._texts import NOT_STARTED_TEXT
from mcp_server.http.cancels import Exchanges
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.results import Results
from mcp_server.runs.runner import Runner
from qwen_ci_tool import CodeInterpreterResult, ConfigurationError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_drain_order import NoProgress, runner_on
from .test_tool import call, text_of

pytestmark = pytest.mark.anyio


async def test_a_call_let_in_and_queued_for_a_slot_before_sigterm_is_refused_at_once_not_after_the_runs_grace() -> None:
    # Break: Exchange.start() doing nothing -> the drain waits for the admitted call's exchange to end
    # before it refuses queued calls: the client is held for the runs' part of the grace (27 s here),
    # and gets the slot (and is billed) if the running call ends first.
    exchanges = Exchanges()
    answers: dict[str, CallToolResult] = {}
    queued_answered = anyio.Event()
    with Emulator(call_seconds=30) as emu, anyio.fail_after(20):
        async with runner_on(emu, max_concurrency=1) as (runner, runs):

            async def running() -> None:
                answers["running"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]

            async def queued() -> None:
                with exchanges.open("client", 2, admitted=True) as exchange:  # the gate let it in
                    current_exchange.set(exchange)
                    answers["queued"] = await runner.call(SEED_QUESTION, False, NoProgress(), runs)  # type: ignore[arg-type]
                queued_answered.set()

            runs.start_soon(running)
            await anyio.wait_all_tasks_blocked()
            runs.start_soon(queued)
            await anyio.wait_all_tasks_blocked()
            assert [run.queued for run in runner.live.values()] == [False, True]
            runs.start_soon(runner.drain, Deadline(30), exchanges.admitted_started)  # SIGTERM
            with anyio.move_on_after(5):
                await queued_answered.wait()
            running_left = "running" not in answers
            runs.cancel_scope.cancel()

    assert "queued" in answers, "the queued call must be refused when the drain begins, not held for the runs' grace"
    assert answers["queued"].is_error and text_of(answers["queued"]) == NOT_STARTED_TEXT
    assert running_left, "refused while the running call still runs"
    assert len(emu.requests) == 1


@pytest.mark.parametrize("spec", ["memory", " Memory ", "MEMORY"])
def test_the_memory_run_store_is_named_in_any_case_and_with_spaces(spec: str) -> None:
    # Break (not made by mutmut): open_run_store comparing the spec as given (`spec == MEMORY`).
    assert server_runtime(create_server(api_key=PLANTED_KEY, run_store=spec)).shared is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "redis://:s3cret@cache.internal:notaport/0",  # a Redis URL the redis client refuses
            "unusable run store URL 'redis://:***@cache.internal:notaport/0': Port could not be cast to integer",
        ),
        ("redis://:s3cret@[::1/0", "Unknown run store 'redis://***@[::1/0'."),  # not even a URL
    ],
)
def test_a_redis_url_that_cannot_be_used_is_refused_as_a_setting_with_the_password_masked(url: str, said: str) -> None:
    # Breaks: open_run_store's ValueError branch (message, hint) and RedisRunStore's "unusable" message
    # (shown_url(None), no message). Bugs found here: a port that is not a number lost the message (and
    # its URL) to shown_url's own ValueError, and an unclosed "[" escaped as a bare ValueError (a traceback).
    with pytest.raises(ConfigurationError) as caught:
        create_server(api_key=PLANTED_KEY, run_store=url)
    message = str(caught.value)
    assert message.startswith(said)
    assert message.endswith("run_store must be 'memory' or a Redis URL (redis://HOST:PORT/DB or rediss://...).")
    assert "s3cret" not in message


class NoRedis(importlib.abc.MetaPathFinder):
    """Finds no ``redis`` package at all: what an install without the [mcp] extra has."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "redis" or fullname.startswith("redis."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def test_a_redis_run_store_without_any_redis_package_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Break: open_run_store telling a missing redis apart by `rpartition` (a real missing install
    # names "redis" itself, with no dot): the bare ModuleNotFoundError would escape.
    monkeypatch.delitem(sys.modules, "mcp_server.runs.redis_store", raising=False)
    for name in [name for name in sys.modules if name == "redis" or name.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoRedis(), *sys.meta_path])
    with pytest.raises(ConfigurationError) as caught:
        create_server(api_key=PLANTED_KEY, run_store="redis://127.0.0.1:6379/0")
    assert str(caught.value).startswith("A Redis run store needs the redis client library, part of the [mcp] extra.")


# --- results -------------------------------------------------------------------------------------------


async def test_an_incomplete_answer_keeps_the_reasoning_asked_for_and_stays_within_the_cap(emu: Emulator) -> None:
    # Breaks: Results.success passing no include_reasoning or no max_chars to the text of an
    # incomplete answer (the model stopped at its length limit).
    for _ in range(2):
        emu.add_fault(Fault.finish_reason("length"))
    settings = {"api_key": PLANTED_KEY, "base_url": emu.base_url, "max_retries": 0}
    whole = await call(create_server(**settings), include_reasoning=True)
    capped = await call(create_server(**settings, max_output_chars=2000), include_reasoning=True)

    assert whole.is_error and capped.is_error and capped.structured_content is not None
    assert "stopped before finishing (finish reason: length)" in text_of(capped)
    assert "## Reasoning" in text_of(whole) and "The user is asking" in text_of(whole)
    assert len(text_of(whole)) > 1000  # more than the half of 2000 the text may take
    assert len(text_of(capped)) + size_of(capped.structured_content) <= 2000


async def test_a_run_cancelled_by_a_drain_stays_within_the_cap() -> None:
    # Break: Results.cancelled passing no max_chars to the text (its partial, reasoning included, whole).
    answers: list[CallToolResult] = []
    with Emulator() as emu, anyio.fail_after(20):
        emu.add_fault(Fault.stall(after_events=50, seconds=30))
        server = create_server(
            api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0, max_output_chars=2000
        )
        runner = server_runtime(server)
        assert isinstance(runner, Runner)
        try:
            async with anyio.create_task_group() as runs:

                async def ask() -> None:
                    answers.append(await runner.call(SEED_QUESTION, True, NoProgress(), runs))  # type: ignore[arg-type]

                runs.start_soon(ask)
                await anyio.wait_all_tasks_blocked()
                (running,) = runner.live.values()
                while running.record.stage != "answering":
                    await runner.local.wait(running.record.run_id, running.record.version, 5)
                await runner.drain(0)
        finally:
            await runner.aclose()

    (cut,) = answers
    assert cut.is_error and text_of(cut).startswith(
        "The qwen_code_interpreter call was cancelled: the server is shutting"
    )
    assert "## Reasoning" in text_of(cut)
    assert cut.structured_content is not None
    assert len(text_of(cut)) + size_of(cut.structured_content) <= 2000


def test_a_record_cut_in_many_places_lists_the_cuts_and_its_note_still_fits_the_cap() -> None:
    # Breaks: Results._package letting the note's list take more than the room kept for it
    # (`_CUT_NOTE_ROOM + 120`), or joining the cuts with anything but "; ".
    runs = [{"index": i, "code": f"print({i})" + "#" * 300, "output": "x" * 500} for i in range(8)]
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "a" * 3000,
            "reasoning": "r" * 3000,
            "status": "completed",
            "protocol": "responses",
            "code_runs": runs,
        }
    )
    packed = Results(3000, None).success(result, include_reasoning=True)
    text = packed.content[0].text  # type: ignore[union-attr]
    assert packed.structured_content is not None and len(packed.structured_content["truncated"]) > 8
    assert len(text) + size_of(packed.structured_content) <= 3000
    assert (
        "[structuredContent was cut to fit this server's --max-output-chars (3,000): reasoning (kept 0 of 3,000 "
        "characters); code_runs[0].output (kept 0 of 500 characters); code_runs[1].output" in text
    )


def test_a_result_too_big_in_bytes_is_cut_to_what_one_event_holds_not_to_the_smallest_budget() -> None:
    # Break: Results._package's second pass dividing by the size instead of scaling the budget to it
    # (`budget / MAX_RESULT_BYTES / size`): the answer cut to the 2,000-character minimum.
    result = CodeInterpreterResult.from_dict({"answer": "😀" * 400_000, "status": "completed", "protocol": "responses"})
    packed = Results(1_000_000, None).success(result, include_reasoning=False)
    assert packed.structured_content is not None
    assert len(packed.model_dump_json(by_alias=True, exclude_none=True).encode()) <= MAX_RESULT_BYTES
    assert len(packed.content[0].text) > 100_000  # type: ignore[union-attr]
    assert len(packed.structured_content["answer"]) > 100_000


async def test_a_failure_before_anything_arrived_sends_no_structured_content(emu: Emulator) -> None:
    # Break: Results._package starting from `structured = ""` (an error result then carries
    # "structuredContent": "", which is not an object) when there is no partial record.
    emu.add_fault(Fault.status(503))
    answer = await call(create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0))
    assert answer.is_error and answer.structured_content is None
    assert "structuredContent" not in answer.model_dump(by_alias=True, exclude_none=True)
