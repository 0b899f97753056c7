"""Limits of the MCP server tested exactly at their boundary and one past it, and rules over every
item tested with two items where the second one matters (a proactive sweep after the fourth mutation
audit, issue 26)."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mcp_server import TOOL_NAME, create_server
from mcp_server.__main__ import main
from mcp_server._fit import compact_record, fit_record, size_of
from mcp_server._logs import MASK, Redactor
from mcp_server._stdio import _lines_of
from mcp_server.http.app import security_settings
from mcp_server.http.auth import TokenFileError, parse_token_file
from mcp_server.runs import runner as runner_module
from mcp_server.runs.memory import MemoryRunStore
from mcp_server.runs.records import RunRecord
from mcp_server.runs.results import MIN_OUTPUT_CHARS, Results
from qwen_ci_tool import CodeInterpreterResult, ConfigurationError
from qwen_ci_tool._secret import Secret
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .test_run_rules import collect
from .test_tool import text_of


def test_a_token_in_a_token_file_of_exactly_16_characters_is_accepted_and_15_is_not(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("alice:" + "a" * 16 + "\n")
    assert parse_token_file(path) == {"a" * 16: "alice"}
    path.write_text("alice:" + "a" * 15 + "\n")
    with pytest.raises(TokenFileError, match="shorter than 16 characters"):
        parse_token_file(path)


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        ({"max_output_chars": MIN_OUTPUT_CHARS}, None),
        ({"max_output_chars": MIN_OUTPUT_CHARS - 1}, "max_output_chars must be an integer >= 2000"),
        ({"max_concurrency": 1}, None),
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1"),
        ({"max_wait": 0}, None),
        ({"result_ttl": 0}, "result_ttl must be a number of seconds > 0"),
    ],
)
def test_each_server_setting_is_accepted_at_its_bound_and_refused_one_past_it(
    options: dict[str, float], refused: str | None
) -> None:
    if refused is None:
        create_server(api_key=PLANTED_KEY, **options)
    else:
        with pytest.raises(ConfigurationError, match=refused):
            create_server(api_key=PLANTED_KEY, **options)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--transport", "streamable-http", "--port", "65535"], 0),
        (["--transport", "streamable-http", "--port", "65536"], 2),
        (["--shutdown-grace", "0"], 0),
        (["--shutdown-grace", "-0.001"], 2),
    ],
)
def test_the_command_takes_port_65535_and_a_grace_of_0_and_refuses_one_past_each(
    argv: list[str], code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[object] = []
    monkeypatch.setattr(anyio, "run", served.append)  # accepted: it would serve now
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    assert main(argv) == code and len(served) == (1 if code == 0 else 0)


def test_a_record_exactly_at_its_budget_is_not_cut_and_one_character_less_is() -> None:
    result = CodeInterpreterResult.from_dict(
        {"answer": "A" * 3000, "code_runs": [{"index": 0, "code": "1", "output": "o" * 3000}], "protocol": "responses"}
    )
    record = compact_record(result)
    size = size_of(record)
    assert fit_record(record, size) == size and record["truncated"] == []
    assert fit_record(record, size - 1) <= size - 1 and record["truncated"]


def test_every_runs_code_is_cut_before_the_answer_not_only_the_first_runs() -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "A" * 3000,
            "code_runs": [{"index": 0, "code": "1", "output": None}, {"index": 1, "code": "c" * 20000, "output": None}],
            "protocol": "dashscope",
        }
    )
    record = compact_record(result)
    fit_record(record, size_of(record) - 15_000)
    assert record["answer"] == "A" * 3000 and any(t.startswith("code_runs[1].code") for t in record["truncated"])


def test_the_key_is_masked_in_every_code_run_of_a_result_not_only_the_first() -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "done",
            "code_runs": [
                {"index": 0, "code": "print(1)", "output": "1"},
                {"index": 1, "code": "print(key)", "output": f"key={PLANTED_KEY}"},
            ],
            "protocol": "responses",
            "status": "completed",
        }
    )
    packed = Results(20_000, Secret(PLANTED_KEY)).success(result, False)
    assert packed.structured_content is not None
    assert PLANTED_KEY not in str(packed.structured_content) and PLANTED_KEY not in text_of(packed)


async def test_the_store_holding_exactly_max_runs_drops_nothing_and_one_more_drops_the_oldest_finished() -> None:
    store = MemoryRunStore(max_runs=2, clock=lambda: 2.0)
    done = RunRecord("run_done", started_at=0.0).advanced(state="finished", result={"content": []}, finished_at=1.0)
    await store.put(done)
    await store.put(RunRecord("run_two", started_at=0.0))
    assert len(store) == 2 and await store.get("run_done") is not None
    await store.put(RunRecord("run_three", started_at=0.0))
    assert len(store) == 2 and await store.get("run_done") is None


async def test_runs_in_progress_up_to_the_limit_are_started_and_the_next_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner_module, "MAX_LIVE_RUNS", 2)
    with Emulator(code_pause=1.0) as emu:
        server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=0, max_wait=0.05)
        async with Client(server) as client:
            with anyio.fail_after(30):
                calls = [await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}) for _ in range(3)]
                for call in calls[:2]:
                    await collect(client, str((call.structured_content or {}).get("run_id")))
    assert [c.is_error for c in calls] == [False, False, True]
    assert "already has 2 runs in progress, its limit" in text_of(calls[2])


def test_a_host_with_two_colons_is_an_ipv6_address_and_one_colon_is_a_name_with_a_port() -> None:
    settings = security_settings("fe80::1", ["proxy.example.com:8443"])
    assert settings is not None
    assert {"[fe80::1]", "[fe80::1]:*", "proxy.example.com:8443"} <= set(settings.allowed_hosts)
    assert "proxy.example.com:8443:*" not in settings.allowed_hosts and "fe80::1" not in settings.allowed_hosts


def test_stdio_input_yields_every_line_of_one_read_the_first_one_empty_included() -> None:
    read_end, write_end = os.pipe()
    try:
        os.set_blocking(read_end, False)  # a line held back for a later read fails here instead of hanging
        os.write(write_end, b'\n{"id":1}\n{"id":2}\n')
        lines = _lines_of(read_end)
        assert [next(lines) for _ in range(3)] == [b"\n", b'{"id":1}\n', b'{"id":2}\n']
    finally:
        os.close(read_end)
        os.close(write_end)


def test_log_lines_mask_every_secret_at_every_occurrence() -> None:
    token = "bearer-token-0123456789"
    redact = Redactor([PLANTED_KEY], lambda: ["other-token-0123456789", token])
    line = redact(f"{PLANTED_KEY} {token} {PLANTED_KEY} {token}")
    assert line == " ".join([MASK] * 4)
