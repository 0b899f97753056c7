"""Guards from the second mutation sweep of the server's own modules (``_server``, ``_fit``, ``_texts``,
``_schema``, ``_metrics``): each test fails with a break that no earlier test noticed."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio as aioredis
from mcp import Client
from mcp.server.mcpserver import MCPServer
from prometheus_client.parser import text_string_to_metric_families

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server
from mcp_server import _texts as T
from mcp_server._fit import CUT_MARK, compact_record, expand_record, fit_record, size_of
from mcp_server._metrics import DURATION_BUCKETS, Metrics
from mcp_server._schema import _nullable_as_type_list
from mcp_server.http.cancels import Exchanges
from mcp_server.runs import MemoryRunStore, RunRecord
from mcp_server.runs.results import MIN_OUTPUT_CHARS, Results
from qwen_ci_tool import CodeInterpreterResult, ConfigurationError, Usage, __version__
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_runs import pending_of
from .test_tool import text_of

pytestmark = pytest.mark.anyio

# --- server settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"max_wait": -1.5}, "Invalid max wait: -1.5. max_wait must be a number of seconds >= 0, and finite."),
        ({"result_ttl": 0}, "Invalid result ttl: 0. result_ttl must be a number of seconds > 0, and finite."),
        ({"max_concurrency": 0}, "Invalid max concurrency: 0. max_concurrency must be an integer >= 1."),
        ({"max_concurrency": 2.5}, "Invalid max concurrency: 2.5. max_concurrency must be an integer >= 1."),
        (
            {"heartbeat_interval": 0},
            "Invalid heartbeat interval: 0. heartbeat_interval must be a positive number of seconds.",
        ),
        (
            {"run_store": "foo://:s3cret@example.com/0"},  # a password alone, as Redis URLs often have
            "Unknown run store 'foo://:***@example.com/0'. run_store must be 'memory' or a Redis URL "
            "(redis://HOST:PORT/DB or rediss://...).",
        ),
        (
            {"run_store": "foo://alice:s3cret@example.com:6379/0"},
            "Unknown run store 'foo://alice:***@example.com:6379/0'. run_store must be 'memory' or a Redis URL "
            "(redis://HOST:PORT/DB or rediss://...).",
        ),
    ],
)
def test_a_refused_server_setting_names_the_setting_and_the_value_given_then_what_it_must_be(
    options: dict[str, Any], said: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_server(api_key=PLANTED_KEY, **options)
    assert str(caught.value) == said


def test_a_redis_run_store_without_the_redis_library_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "mcp_server.runs.redis_store", raising=False)
    for name in [name for name in sys.modules if name.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)  # `import redis...` fails on "redis", as if it were not installed
    with pytest.raises(ConfigurationError) as caught:
        create_server(api_key=PLANTED_KEY, run_store="redis://127.0.0.1:6379/0")
    assert str(caught.value) == (
        "A Redis run store needs the redis client library, part of the [mcp] extra. "
        "pip install 'qwen-ci-tool[mcp]', or set run_store='memory'."
    )


def test_another_module_missing_inside_the_redis_store_is_not_blamed_on_the_redis_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A broken install (our own module gone) must surface as itself, not as "install redis".
    monkeypatch.setitem(sys.modules, "mcp_server.runs.redis_store", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        create_server(api_key=PLANTED_KEY, run_store="redis://127.0.0.1:6379/0")
    assert caught.value.name == "mcp_server.runs.redis_store" and "[mcp] extra" not in str(caught.value)


# --- what a tool call returns -----------------------------------------------------------------------


async def test_a_call_of_a_tool_the_server_does_not_have_gets_the_sdks_unknown_tool_error() -> None:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("qwen_nope", {})
    assert result.is_error and text_of(result) == "Unknown tool: qwen_nope"


async def test_arguments_that_do_not_fit_are_refused_naming_the_tool_that_was_called() -> None:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        with anyio.fail_after(10):
            result = await client.call_tool(RESULT_TOOL_NAME, {"run_id": ""})
    assert result.is_error
    assert text_of(result).startswith(f"The {RESULT_TOOL_NAME} call failed (ConfigurationError): ")


def exploding_server() -> MCPServer:
    """A server whose every service request raises a plain RuntimeError (a bug, not a service failure)."""

    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("internal detail")

    return create_server(
        api_key=PLANTED_KEY,
        base_url="http://127.0.0.1:9",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(explode)),
    )


async def test_an_unexpected_failure_says_it_is_a_server_bug_and_retrying_may_not_help() -> None:
    server = exploding_server()
    async with Client(server) as client:
        with anyio.fail_after(20):
            result = await client.call_tool(TOOL_NAME, {"question": "What is 2 + 2?"})
    assert result.is_error
    text = text_of(result)
    assert "This is a bug in the server, not a problem with the question; its log (stderr) has the details." in text
    assert text.endswith("Retrying may not help.")


async def test_an_unknown_run_id_says_that_calling_the_tool_again_starts_a_new_billed_run() -> None:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        with anyio.fail_after(10):
            result = await client.call_tool(RESULT_TOOL_NAME, {"run_id": "run_gone"})
    assert result.is_error and text_of(result).endswith("that starts a new run, billed again.")


async def test_the_server_tells_clients_its_instructions_version_and_that_its_tool_list_never_changes() -> None:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        info, capabilities, instructions = client.server_info, client.server_capabilities, client.instructions
    assert info is not None and info.version == __version__
    assert info.description == "Qwen's hosted code interpreter as an MCP tool: one call, one complete typed result."
    assert instructions == T.INSTRUCTIONS and instructions.startswith(f"One tool, {TOOL_NAME}: ")
    assert capabilities is not None and capabilities.tools is not None and capabilities.tools.list_changed is False


async def test_the_upstream_connection_closes_when_the_last_client_of_the_server_is_gone_not_before() -> None:
    with Emulator() as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0)
        async with Client(server) as first:
            async with Client(server) as second:
                with anyio.fail_after(20):
                    assert not (await second.call_tool(TOOL_NAME, {"question": SEED_QUESTION})).is_error
            assert emu.active_connections == 1  # kept for the client still connected
            assert (await first.list_tools()).tools  # and still served
        assert await anyio.to_thread.run_sync(emu.wait_for_connections, 0, 5.0)


async def test_a_redis_run_is_kept_twice_the_total_timeout_plus_a_minute_plus_the_result_ttl(redis_url: str) -> None:
    # A run's record outlives the longest a live replica could stay silent (then it reads as lost), then the ttl.
    with Emulator() as emu:
        emu.add_fault(Fault.stall(after_events=3, seconds=30))
        server = create_server(
            api_key=PLANTED_KEY,
            base_url=emu.base_url,
            max_retries=0,
            run_store=redis_url,
            total_timeout=100,
            result_ttl=600,
            max_wait=0.05,
        )
        raw = aioredis.Redis.from_url(redis_url)
        try:
            async with Client(server) as client:
                with anyio.fail_after(20):
                    handle = pending_of(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))
                    # The handle may come back before the run's writer first stored it: wait for the key.
                    while (left_ms := await raw.pttl(f"qwen_ci:run:{handle.run_id}")) < 0:
                        await anyio.sleep(0.01)
        finally:
            await raw.aclose()
    assert (2 * 100 + 60 + 600 - 5) * 1000 < left_ms <= (2 * 100 + 60 + 600) * 1000


async def test_a_full_memory_store_drops_only_the_oldest_finished_run_not_every_finished_one() -> None:
    store = MemoryRunStore(max_runs=2, clock=lambda: 5.0)
    for run_id, finished_at in (("run_old", 1.0), ("run_newer", 2.0)):
        await store.put(RunRecord(run_id, started_at=0.0, state="finished", result={}, finished_at=finished_at))
    await store.put(RunRecord("run_live", started_at=0.0))
    assert await store.get("run_old") is None
    assert await store.get("run_newer") is not None and await store.get("run_live") is not None


# --- texts about runs that only a shared (Redis) store leads to ------------------------------------


def test_a_pending_answer_with_the_store_down_keeps_the_handle_and_adds_why_only_this_server_can_answer() -> None:
    text = T.pending_text(run_id="run_7", stage="thinking", elapsed=3, max_wait=50, ttl=600, store_down=True)
    assert f'call {RESULT_TOOL_NAME} with run_id "run_7"' in text
    assert text.endswith(
        " Note: the run store this server shares with its replicas is unavailable right now, so only "
        "this server can answer for this run until the store is back."
    )


def test_the_store_and_lost_run_texts_say_whether_starting_the_task_again_is_billed() -> None:
    assert T.store_unavailable_text("run_7").endswith(
        f"Call {RESULT_TOOL_NAME} again with the same run_id in a moment; do not start the task again "
        "(that is billed again)."
    )
    assert T.lost_run_text(30).endswith(
        "so its result is lost. Calling the tool again with the task starts a new run, billed again."
    )


# --- the size budget --------------------------------------------------------------------------------


def test_an_answer_cut_to_fit_is_named_answer_in_truncated_with_how_much_was_kept() -> None:
    result = CodeInterpreterResult.from_dict({"answer": "A" * 10_000, "status": "completed", "protocol": "responses"})
    packed = Results(MIN_OUTPUT_CHARS, None).success(result, include_reasoning=False)
    record = packed.structured_content
    assert record is not None and record["answer"].endswith(CUT_MARK)
    kept = len(record["answer"]) - len(CUT_MARK)
    assert record["truncated"] == [f"answer (kept {kept:,} of 10,000 characters)"]


def _long_output_record(run: int) -> dict[str, Any]:
    """A record whose only long text is the output of code run *run* (its name's length sets how big
    the `truncated` entry is), then a short answer."""
    runs = [{"index": i, "code": "", "output": None, "container_id": None} for i in range(run + 1)]
    runs[run]["output"] = "o" * 2_000_000
    return {"answer": "a" * 1000, "reasoning": "", "code_runs": runs, "steps": [], "truncated": []}


def test_a_cut_that_lands_exactly_on_the_budget_cuts_nothing_more() -> None:
    record = _long_output_record(100)
    budget = size_of(record) - (500_000 - 73)
    assert fit_record(record, budget) == budget == size_of(record)
    assert record["answer"] == "a" * 1000 and len(record["truncated"]) == 1


def test_a_cut_that_leaves_the_record_one_character_over_the_budget_cuts_the_next_text() -> None:
    record = _long_output_record(1000)  # the entry naming code_runs[1000] is one character longer
    budget = size_of(record) - (500_000 - 73)
    size = fit_record(record, budget)
    assert size == size_of(record) <= budget


def test_a_compact_record_expands_back_to_the_cores_dict_code_step_texts_included() -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "It is 42.",
            "reasoning": "Think first.\n\nThen check.",
            "code_runs": [{"index": 0, "code": "print(6 * 7)", "output": "42\n", "container_id": None}],
            "steps": [
                {"kind": "reasoning", "text": "Think first.", "code_run": None},
                {"kind": "code", "text": "print(6 * 7)", "code_run": 0},
                {"kind": "reasoning", "text": "Then check.", "code_run": None},
                {"kind": "answer", "text": "It is 42.", "code_run": None},
            ],
            "status": "completed",
            "protocol": "responses",
        }
    )
    assert expand_record(compact_record(result)) == result.to_dict()


# --- the published output schema -------------------------------------------------------------------


def test_a_nullable_field_is_published_as_a_type_list_with_null_on_either_side_unless_more_than_a_type() -> None:
    schema: dict[str, Any] = {
        "properties": {
            "after": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "d"},
            "before": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
            "rich": {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
        }
    }
    _nullable_as_type_list(schema)
    assert schema["properties"] == {
        "after": {"type": ["string", "null"], "description": "d"},
        "before": {"type": ["integer", "null"]},
        "rich": {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
    }


# --- metrics -----------------------------------------------------------------------------------------


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }


def test_tokens_and_interpreter_runs_count_what_was_billed_never_less_than_nothing() -> None:
    metrics = Metrics()
    # The service's count of interpreter calls where it is higher than the runs seen, else the runs seen.
    metrics.record_usage("alice", Usage(input_tokens=10, output_tokens=0, code_interpreter_calls=3), code_runs=1)
    metrics.record_usage("bob", Usage(input_tokens=5, code_interpreter_calls=0), code_runs=2)
    metrics.record_usage("carol", Usage(input_tokens=-4, code_interpreter_calls=-1), code_runs=0)
    samples = _samples(metrics)

    def tokens(client: str, kind: str) -> float:
        return samples.get(("qwen_ci_tokens_total", (("client", client), ("kind", kind))), 0.0)

    def runs(client: str) -> float:
        return samples.get(("qwen_ci_interpreter_runs_total", (("client", client),)), 0.0)

    assert (tokens("alice", "input"), tokens("alice", "output"), tokens("alice", "reasoning")) == (10, 0, 0)
    assert (runs("alice"), runs("bob"), runs("carol")) == (3, 2, 0)
    assert tokens("carol", "input") == 0


def test_the_metrics_page_describes_each_metric_and_starts_with_the_run_store_up() -> None:
    metrics = Metrics()
    metrics.run_store_errors.labels("get").inc()
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    assert {name: f.documentation for name, f in families.items() if not name.endswith("_created")} == {
        "qwen_ci_calls": "Runs (tool calls) finished, by client, outcome and error class.",
        "qwen_ci_calls_in_flight": "Upstream calls running now.",
        "qwen_ci_calls_queued": "Calls waiting for a free upstream slot.",
        "qwen_ci_call_duration_seconds": "Tool call duration from arrival to answer, by outcome.",
        "qwen_ci_tokens": "Tokens billed, by client and kind (input, output, reasoning).",
        "qwen_ci_interpreter_runs": "Code runs in Qwen's sandbox, by client.",
        "qwen_ci_run_handles": "Run handles issued for calls still going at --max-wait, by client.",
        "qwen_ci_run_store_errors": "Failed operations on the shared run store (Redis), by operation.",
        "qwen_ci_run_store_up": "1 while the shared run store answers, 0 after a failure (1 without one).",
        "qwen_ci_http_unauthorized": "HTTP requests refused for a missing or wrong bearer token.",
    }
    samples = _samples(metrics)
    assert samples[("qwen_ci_run_store_up", ())] == 1
    assert samples[("qwen_ci_run_store_errors_total", (("operation", "get"),))] == 1


def test_a_call_duration_is_observed_as_measured_and_a_negative_one_as_zero() -> None:
    metrics = Metrics()
    metrics.record_call("alice", "completed", "", 0.25)
    metrics.record_call("alice", "failed", "ShuttingDown", -1.0)
    samples = _samples(metrics)
    duration = "qwen_ci_call_duration_seconds"
    assert samples[(f"{duration}_sum", (("outcome", "completed"),))] == 0.25
    assert samples[(f"{duration}_bucket", (("le", "0.5"), ("outcome", "completed")))] == 1
    assert samples[(f"{duration}_sum", (("outcome", "failed"),))] == 0
    bounds = [labels[0][1] for name, labels in samples if name == f"{duration}_bucket" and labels[1][1] == "completed"]
    assert bounds == [*map(str, DURATION_BUCKETS), "+Inf"]


# --- requests over HTTP -----------------------------------------------------------------------------


async def test_an_abort_cancels_the_guard_open_then_and_every_guard_opened_after_it_but_none_before() -> None:
    exchanges = Exchanges()
    with exchanges.open("alice", 1) as exchange:
        with exchange.guard() as before:
            assert not before.cancel_called
            exchange.abort("the client disconnected")
            assert before.cancel_called
        with exchange.guard() as after:
            assert after.cancel_called
    with exchanges.reading() as read:
        assert not read.cancel_called
        exchanges.close()
        assert read.cancel_called
    with exchanges.reading() as late:
        assert late.cancel_called
