"""The tool's behaviour through the in-memory client: results, progress, cancellation, failures, limits."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server
from mcp_server._fit import CUT_MARK, compact_record, expand_record, size_of
from mcp_server._schema import CodeInterpreterResultModel
from qwen_ci_tool import CodeInterpreterResult, ConfigurationError
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .conftest import FAST_HEARTBEAT

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


class Progress:
    """Collects progress notifications; ``seen(message)`` fires once a message containing it arrives."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, str | None]] = []
        self._waiters: dict[str, anyio.Event] = {}

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.reports.append((progress, message))
        for needle, event in self._waiters.items():
            if message and needle in message:
                event.set()

    def seen(self, needle: str) -> anyio.Event:
        """An event set once a message containing *needle* arrives, or at once if one already has: a
        test waiting for two calls' messages in turn must not miss one that came first."""
        event = self._waiters.setdefault(needle, anyio.Event())
        if any(needle in message for message in self.messages):
            event.set()
        return event

    @property
    def messages(self) -> list[str]:
        return [m or "" for _, m in self.reports]


async def cancel_while_thinking(client: Client, emu: Emulator) -> None:
    """Start the seed call, cancel it once it reports "thinking" (its one upstream request open then),
    and check that the upstream connection closes."""
    progress = Progress()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=progress))
        await progress.seen("thinking").wait()
        assert emu.active_connections == 1
        tg.cancel_scope.cancel()
    assert await anyio.to_thread.run_sync(emu.wait_for_connections, 0, 5.0)


async def call(
    server: MCPServer, mode: str = "auto", progress: Progress | None = None, **arguments: Any
) -> CallToolResult:
    arguments.setdefault("question", SEED_QUESTION)
    async with Client(server, mode=mode, raise_exceptions=True) as client:
        with anyio.fail_after(20):
            return await client.call_tool(TOOL_NAME, arguments, progress_callback=progress)


@pytest.mark.parametrize("mode", MODES)
async def test_a_call_returns_the_answer_then_the_code_then_usage_and_the_result_dict(
    make_server: Callable[..., MCPServer], mode: str
) -> None:
    result = await call(make_server(), mode)

    assert not result.is_error
    text = text_of(result)
    assert text.index(SEED_ANSWER) < text.index("123**21") < text.index("## Usage")
    assert "997 total" in text
    structured = result.structured_content
    assert structured is not None and structured["truncated"] == []
    record = CodeInterpreterResult.from_dict(expand_record(structured))
    assert SEED_ANSWER in record.answer
    assert [run.code for run in record.code_runs] == ["123**21"]
    assert record.status == "completed"
    assert compact_record(record) == structured
    # No step repeats a field: text steps give a length, code steps an index.
    assert all("text" not in step for step in structured["steps"])
    # Reasoning steps cover the reasoning, whose segments the core keeps apart with a blank line.
    lengths = [s["chars"] for s in structured["steps"] if s["kind"] == "reasoning"]
    assert sum(lengths) <= len(record.reasoning) <= sum(lengths) + 2 * (len(lengths) - 1)


async def test_the_structured_record_rebuilds_reasoning_segments_kept_apart_around_code_runs(
    make_server: Callable[..., MCPServer],
) -> None:
    result = await call(make_server(), question=TWO_RUN_QUESTION)
    structured = result.structured_content
    assert structured is not None and "\n\n" in structured["reasoning"]
    record = CodeInterpreterResult.from_dict(expand_record(structured))
    segments = [s.text for s in record.steps if s.kind == "reasoning"]
    assert len(segments) >= 2
    for before, after in itertools.pairwise(segments):  # each step is its segment, without the separator
        assert before.rstrip("\n") + "\n\n" + after in record.reasoning
    assert not any(seg.startswith("\n") for seg in segments[1:])
    assert compact_record(record) == structured, "compact and expand are exact inverses"


@pytest.mark.parametrize("mode", MODES)
async def test_progress_names_each_stage_with_strictly_increasing_values_and_beats_while_code_runs(
    mode: str,
) -> None:
    progress = Progress()
    # The emulator stays silent for a while after the code, as the service does while its sandbox runs.
    with Emulator(code_pause=0.5) as slow:
        server = create_server(api_key=PLANTED_KEY, base_url=slow.base_url, heartbeat_interval=FAST_HEARTBEAT)
        result = await call(server, mode, progress)

    assert not result.is_error
    values = [value for value, _ in progress.reports]
    assert all(a < b for a, b in itertools.pairwise(values))
    stages = [m for m in progress.messages if "still working" not in m]
    assert stages == ["sending the question to Qwen", "thinking", "running code #1", "thinking", "answering"]
    running = progress.messages.index("running code #1")
    assert progress.messages[running + 1].startswith("running code #1 (still working,")


async def test_include_reasoning_adds_the_reasoning_to_the_text(make_server: Callable[..., MCPServer]) -> None:
    server = make_server()
    plain = await call(server)
    with_reasoning = await call(server, include_reasoning=True)

    assert "## Reasoning" not in text_of(plain)
    assert "## Reasoning" in text_of(with_reasoning)
    assert plain.structured_content["reasoning"] == with_reasoning.structured_content["reasoning"] != ""  # type: ignore[index]


async def test_text_and_structured_content_together_stay_within_the_cap_and_say_what_was_cut(
    make_server: Callable[..., MCPServer],
) -> None:
    whole = await call(make_server(), include_reasoning=True)
    result = await call(make_server(max_output_chars=2000), include_reasoning=True)

    text, structured = text_of(result), result.structured_content
    assert structured is not None
    assert len(text) + size_of(structured) <= 2000
    assert "[truncated:" in text
    assert structured["truncated"] and structured["truncated"][0].startswith("reasoning (kept ")
    assert "structuredContent was cut" in text and "reasoning (kept " in text
    assert structured["reasoning"].endswith(CUT_MARK)
    assert len(structured["reasoning"]) < len(whole.structured_content["reasoning"])  # type: ignore[index]
    assert structured["answer"] == whole.structured_content["answer"]  # type: ignore[index]  # cut last


async def test_without_a_key_the_tool_is_listed_and_a_call_says_how_to_set_it(emu: Emulator) -> None:
    server = create_server(base_url=emu.base_url)  # conftest removed DASHSCOPE_API_KEY from the environment
    async with Client(server) as client:
        with anyio.fail_after(10):
            tools = await client.list_tools()
            result = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})

    assert [tool.name for tool in tools.tools] == [TOOL_NAME, RESULT_TOOL_NAME]
    assert result.is_error
    assert "DASHSCOPE_API_KEY" in text_of(result) and '"env"' in text_of(result)
    assert emu.requests == []


FAILURES = [
    pytest.param(
        Fault.status(401), {}, ["AuthenticationError", "Check the API key in the api_key= argument."], id="auth-401"
    ),
    pytest.param(
        Fault.status(429, retry_after="0"),
        {},
        ["RateLimitError", "before calling again; do not retry in a tight loop"],
        id="rate-limit-429",
    ),
    pytest.param(
        Fault.stall(after_events=3, seconds=30),
        {"idle_timeout": 0.3},
        ["APITimeoutError", "0.3 s (the idle timeout)", "the server argument --idle-timeout"],
        id="idle-timeout",
    ),
    pytest.param(
        Fault.status(400, code="DataInspectionFailed"), {}, ["ContentFilterError", "rephrase"], id="content-filter"
    ),
    pytest.param(
        Fault.drop(after_events=50),
        {},
        ["StreamInterruptedError", "What arrived before the failure", "772693644665", "Calling again: may work"],
        id="mid-stream-drop",
    ),
    pytest.param(
        Fault.error_event(after_events=50, code="InternalError", status=500),
        {},
        ["InternalServerError", "772693644665", "Calling again: may work"],
        id="error-event",
    ),
]


@pytest.mark.parametrize(("fault", "options", "expected"), FAILURES)
async def test_each_failure_is_an_error_result_that_says_what_happened_and_what_to_do(
    make_server: Callable[..., MCPServer], emu: Emulator, fault: Fault, options: dict[str, Any], expected: list[str]
) -> None:
    emu.add_fault(fault)
    result = await call(make_server(**options))

    assert result.is_error
    text = text_of(result)
    for needle in expected:
        assert needle in text
    assert PLANTED_KEY not in text and PLANTED_KEY not in str(result.structured_content)


@pytest.mark.parametrize(
    ("variable", "place"),
    [
        ("DASHSCOPE_API_KEY", 'DASHSCOPE_API_KEY in the "env" block'),
        ("DASHSCOPE_API_KEY_FILE_PATH", "the file that DASHSCOPE_API_KEY_FILE_PATH names."),
    ],
)
async def test_a_refused_key_from_the_environment_is_named_where_it_came_from(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, place: str
) -> None:
    (tmp_path / "key").write_text(PLANTED_KEY)
    monkeypatch.setenv(variable, str(tmp_path / "key") if variable.endswith("_PATH") else PLANTED_KEY)
    emu.add_fault(Fault.status(401))
    result = await call(create_server(base_url=emu.base_url, max_retries=0))

    assert result.is_error
    assert f"Check the API key in {place}" in text_of(result)
    assert PLANTED_KEY not in text_of(result)


async def test_a_rate_limit_that_outlasts_the_retries_says_they_were_made(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    emu.add_fault(Fault.status(429, retry_after="0"), times=3)
    result = await call(make_server(max_retries=2))

    assert result.is_error
    assert "after 3 attempts" in text_of(result)
    assert len(emu.requests) == 3


async def test_a_failure_after_the_answer_started_keeps_the_partial_record(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    emu.add_fault(Fault.drop(after_events=50))
    result = await call(make_server())

    assert result.is_error
    partial = CodeInterpreterResult.from_dict(expand_record(result.structured_content))  # type: ignore[arg-type]
    assert partial.status == "incomplete"
    assert partial.answer.startswith("123 to the power of 21 is:")
    assert [run.code for run in partial.code_runs] == ["123**21"]


async def test_an_answer_cut_by_the_length_limit_is_an_error_not_a_success(
    make_server: Callable[..., MCPServer], emu: Emulator
) -> None:
    emu.add_fault(Fault.finish_reason("length"))
    result = await call(make_server())

    assert result.is_error
    assert "stopped before finishing (finish reason: length)" in text_of(result)
    assert result.structured_content["status"] == "incomplete"  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
async def test_cancelling_the_call_closes_the_upstream_connection(
    make_server: Callable[..., MCPServer], emu: Emulator, mode: str
) -> None:
    emu.add_fault(Fault.stall(after_events=3, seconds=30))
    server = make_server()
    async with Client(server, mode=mode) as client:
        with anyio.fail_after(10):
            await cancel_while_thinking(client, emu)


async def test_calls_beyond_the_concurrency_cap_wait_for_a_free_slot_and_say_so() -> None:
    first, second = Progress(), Progress()
    results: list[CallToolResult] = []
    with Emulator(code_pause=0.3) as slow:
        server = create_server(api_key=PLANTED_KEY, base_url=slow.base_url, max_concurrency=1)

        async def run(progress: Progress) -> None:
            results.append(await call(server, progress=progress))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run, first)
            await first.seen("thinking").wait()
            tg.start_soon(run, second)
        assert len(slow.requests) == 2

    assert len(results) == 2 and not any(r.is_error for r in results)
    assert not any("waiting for a free slot" in m for m in first.messages)
    assert second.messages[0] == "waiting for a free slot (at most 1 concurrent calls)"
    assert second.messages[1] == "sending the question to Qwen"


async def test_an_unexpected_failure_is_reported_as_a_server_bug_without_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"internal detail {PLANTED_KEY}")

    server = create_server(
        api_key=PLANTED_KEY,
        base_url="http://127.0.0.1:9",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(explode)),
    )
    with caplog.at_level(logging.ERROR, logger="mcp_server"):
        result = await call(server)

    assert result.is_error
    assert "failed unexpectedly (RuntimeError)" in text_of(result)
    assert "internal detail" not in text_of(result)
    assert f"{TOOL_NAME} raised unexpectedly" in caplog.text


async def test_the_key_never_appears_in_results_or_logs(
    make_server: Callable[..., MCPServer], emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emu.add_fault(Fault.status(401))
    server = make_server()
    with caplog.at_level(logging.DEBUG):
        failed = await call(server)
        succeeded = await call(server)

    assert failed.is_error and not succeeded.is_error
    for result in (failed, succeeded):
        assert PLANTED_KEY not in result.model_dump_json()
    assert PLANTED_KEY not in caplog.text


@pytest.mark.parametrize("question", ["", "   "])
async def test_an_empty_question_is_refused_with_a_message_the_model_can_act_on(
    make_server: Callable[..., MCPServer], emu: Emulator, question: str
) -> None:
    result = await call(make_server(), question=question)

    assert result.is_error
    assert "question" in text_of(result).lower()
    assert emu.requests == []


@pytest.mark.parametrize(
    ("tool", "arguments", "argument", "problem", "allowed"),
    [
        (TOOL_NAME, {"question": 5}, "question", "is a number, the wrong type", "non-empty string"),
        (TOOL_NAME, {"question": None}, "question", "is null", "non-empty string"),
        (TOOL_NAME, {}, "question", "is missing", "non-empty string"),
        (TOOL_NAME, {"question": "x" * 500_001}, "question", "has 500,001 characters", "at most 500,000"),
        (
            TOOL_NAME,
            {"question": SEED_QUESTION, "include_reasoning": "maybe"},
            "include_reasoning",
            "is a string",
            "true or false",
        ),
        (RESULT_TOOL_NAME, {"run_id": ""}, "run_id", "is empty", "the run_id string from a qwen_code_interpreter"),
    ],
    ids=["number", "null", "missing", "too-long", "not-a-boolean", "empty-run-id"],
)
async def test_arguments_that_do_not_fit_the_schema_are_an_error_naming_the_argument_what_is_allowed_and_the_fix(
    make_server: Callable[..., MCPServer],
    emu: Emulator,
    caplog: pytest.LogCaptureFixture,
    tool: str,
    arguments: dict[str, Any],
    argument: str,
    problem: str,
    allowed: str,
) -> None:
    caplog.set_level(logging.INFO)
    async with Client(make_server(), raise_exceptions=True) as client:
        with anyio.fail_after(20):
            result = await client.call_tool(tool, arguments)

    assert result.is_error
    text = text_of(result)
    assert f"`{argument}` {problem}" in text
    assert allowed in text
    assert f"Fix: call {tool} again with `{argument}` corrected." in text
    assert "Calling again: will not help" in text
    assert "validation error" not in text and "pydantic" not in text and "xxxxx" not in text
    assert emu.requests == []
    assert "xxxxx" not in caplog.text and "maybe" not in caplog.text  # the values stay out of the log


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1"),
        ({"max_output_chars": 10}, "max_output_chars must be an integer >= 2000"),
        ({"max_wait": float("nan")}, "max_wait must be a number of seconds >= 0, and finite"),
        ({"result_ttl": 0}, "result_ttl must be a number of seconds > 0, and finite"),
        ({"run_store": "foo://x"}, "run_store must be 'memory' or a Redis URL"),
        ({"protocol": "soap"}, "Unknown protocol 'soap'"),
    ],
)
def test_invalid_settings_are_refused_when_the_server_is_built_naming_the_python_argument(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        create_server(api_key=PLANTED_KEY, **options)
    assert "--" not in str(caught.value)  # no command-line flag: the server was built from Python


async def test_the_tool_listing_publishes_annotations_and_both_schemas() -> None:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        with anyio.fail_after(10):
            tool, _ = (await client.list_tools()).tools
    wire = tool.model_dump(by_alias=True, mode="json", exclude_none=True)

    assert wire["name"] == "qwen_code_interpreter"
    assert wire["title"] == "Qwen code interpreter"
    for phrase in (
        "exact arithmetic",
        "data analysis",
        "real",
        "Do not send bare code",
        "independent",
        "slow",
        "billed",
    ):
        assert phrase in wire["description"]
    assert wire["annotations"] == {
        "title": "Qwen code interpreter",
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": True,
    }
    assert wire["inputSchema"] == {
        "type": "object",
        "title": "qwen_code_interpreterArguments",
        "required": ["question"],
        "properties": {
            "question": {
                "type": "string",
                "title": "Question",
                "minLength": 1,
                "maxLength": 500000,
                "description": "The task in natural language, self-contained, including all data it needs "
                "(for example: 'What is 123 to the power of 21?'). Not code.",
            },
            "include_reasoning": {
                "type": "boolean",
                "title": "Include Reasoning",
                "default": False,
                "description": "Also return Qwen's reasoning text in the readable output (it is always in "
                "structuredContent). Default false: the answer and the code are usually enough.",
            },
        },
    }
    # The output is the result or, for a run still going, its handle: one object schema of either.
    schema = wire["outputSchema"]
    assert schema["type"] == "object"
    assert schema["anyOf"] == [{"$ref": "#/$defs/CodeInterpreterResultModel"}, {"$ref": "#/$defs/RunPendingModel"}]
    pending = schema["$defs"]["RunPendingModel"]
    assert pending["title"] == "RunPending" and pending["additionalProperties"] is False
    assert sorted(pending["required"]) == ["elapsed_seconds", "result_tool", "run_id", "stage", "status"]
    assert pending["properties"]["status"]["const"] == "running"
    output = schema["$defs"]["CodeInterpreterResultModel"]
    assert output["title"] == "CodeInterpreterResult"
    assert output["additionalProperties"] is False
    assert sorted(output["required"]) == sorted(output["properties"]) == sorted(
        [
            "answer", "reasoning", "code_runs", "steps", "usage", "request_id", "model", "protocol",
            "finish_reason", "status", "code_returned", "timings", "truncated",
        ]
    )  # fmt: skip
    assert output["properties"]["status"]["enum"] == ["completed", "incomplete"]
    # Nullable fields are a type list, not an anyOf each: clients validate every result against this.
    assert json.dumps(schema).count('"anyOf"') == 1
    assert output["properties"]["request_id"]["type"] == ["string", "null"]
    assert schema["$defs"]["CodeRun"]["properties"]["output"]["type"] == ["string", "null"]


async def test_the_output_schema_describes_exactly_the_core_result_dict(make_server: Callable[..., MCPServer]) -> None:
    result = await call(make_server())
    record = result.structured_content
    assert record is not None

    assert CodeInterpreterResultModel.model_validate(record).model_dump(mode="json") == record
    assert set(CodeInterpreterResultModel.model_fields) == set(record)
