"""Every number and default the README states, checked against what the code does (issue 26, audit 8 missed two):
each expectation is read from the README's own text, never from the constant it documents, so a constant changed
while the document stayed fails here. Each test was checked to fail with a one-line break of the value it guards."""

from __future__ import annotations

import argparse
import inspect
import itertools
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from mcp_server import RESULT_TOOL_NAME, create_server
from mcp_server.__main__ import build_parser
from mcp_server._fit import size_of
from mcp_server._ops import Ops
from mcp_server.http.app import build_http_app
from mcp_server.http.auth import Credentials
from mcp_server.runs.deadline import Deadline
from mcp_server.runs.link import StoreLink
from mcp_server.runs.records import StoreUnavailable
from mcp_server.runs.results import Results
from qwen_ci_tool import AdaptiveLimiter, CodeInterpreter, CodeInterpreterResult
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool.cli.main import _parser
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

from .conftest import PLANTED_KEY
from .otel import Otel

TOKEN = "hp-docs-token-0123456789"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _folded(text: str) -> str:
    return " ".join(text.split())


def _stated(pattern: str) -> re.Match[str]:
    """The README's one sentence matching *pattern* (white space folded: the README wraps lines)."""
    found = re.findall(pattern, _folded(README))
    assert len(found) == 1, (pattern, found)
    match = re.search(pattern, _folded(README))
    assert match is not None
    return match


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An option's help as ``--help`` prints it (``%(default)s`` expanded), white space folded."""
    return _folded(parser._get_formatter()._expand_help(action))


def _shown(value: object) -> str:
    """A parsed value as the README writes it: 50.0 -> "50"."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


# --- qwen-ci-mcp ---------------------------------------------------------------------------------------


def _mcp_options_line() -> dict[str, str]:
    """flag -> the value the README's "Options:" paragraph of the MCP server gives in parentheses."""
    paragraph = _folded(README.split("Options: `--transport stdio|streamable-http`", 1)[1].split("\n\n", 1)[0])
    return {flag: value for flag, value in re.findall(r"`(--[a-z-]+)` \(([^;)]+)", paragraph) if value[0].isdigit()}


def test_the_readme_options_line_of_qwen_ci_mcp_states_the_defaults_of_its_numbered_options() -> None:
    # The parse below finds what it checks: a reworded line must not leave the other tests checking nothing.
    assert set(_mcp_options_line()) == {
        "--host",
        "--port",
        "--max-concurrency",
        "--max-output-chars",
        "--max-wait",
        "--result-ttl",
        "--shutdown-grace",
    }


@pytest.mark.parametrize("flag", sorted(_mcp_options_line()))
def test_qwen_ci_mcp_uses_and_prints_the_default_the_readme_states_for(flag: str) -> None:
    stated = _mcp_options_line()[flag]
    parser = build_parser()
    action = _actions(parser)[flag]
    assert _shown(getattr(parser.parse_args([]), action.dest)) == stated, flag
    assert f"default {stated}" in _help_of(parser, action), flag


def test_qwen_ci_mcp_serves_over_stdio_unless_told_otherwise_as_the_readme_says() -> None:
    assert "Over stdio by default." in _folded(README)
    assert build_parser().parse_args([]).transport == "stdio"


async def test_a_server_built_with_the_defaults_tells_clients_the_readmes_wait_and_keep_times() -> None:
    held = _stated(r"a call is held at most `--max-wait` seconds \((\d+)\)").group(1)
    kept = _stated(r"Results are kept `--result-ttl` seconds \((\d+)\) after a run ends").group(1)
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    description = _folded(tools[RESULT_TOOL_NAME].description or "")
    assert f"Waits up to {held} s" in description and f"Results are kept {kept} s after a run ends" in description


@pytest.mark.parametrize(
    ("keyword", "flag"),
    [
        ("max_concurrency", "--max-concurrency"),
        ("max_output_chars", "--max-output-chars"),
        ("max_wait", "--max-wait"),
        ("result_ttl", "--result-ttl"),
    ],
)
def test_create_server_has_the_default_the_readme_states_for_the_option(keyword: str, flag: str) -> None:
    # An application embedding the server gets what qwen-ci-mcp users get.
    default = inspect.signature(create_server).parameters[keyword].default
    assert _shown(default) == _mcp_options_line()[flag]


def test_a_heartbeat_follows_every_few_seconds_of_silence_as_many_the_readme_states() -> None:
    every = _stated(r"a heartbeat follows every (\d+) s while the service is silent").group(1)
    # qwen-ci-mcp passes no interval of its own: the server's default is the one every user gets.
    assert _shown(inspect.signature(create_server).parameters["heartbeat_interval"].default) == every


async def test_on_shutdown_runs_get_the_grace_less_a_quarter_of_it_and_at_most_the_readmes_seconds() -> None:
    most = float(_stated(r"runs get the grace less a reserve \(a quarter of it, at most (\d+) s\)").group(1))
    assert f"less a quarter, at most {most:g} s," in _help_of(
        build_parser(), _actions(build_parser())["--shutdown-grace"]
    )
    for grace in (2.0, 4 * most, 30.0, 100.0):
        assert Deadline(grace).runs_grace == pytest.approx(grace - min(grace / 4, most)), grace


def test_a_result_too_big_for_a_small_cap_keeps_the_readmes_least_text() -> None:
    least = int(_stated(r"the text is never cut below (\d+) characters").group(1))
    runs = [{"index": i, "code": "c" * 50, "output": None} for i in range(150)]  # a skeleton of most of the cap
    result = CodeInterpreterResult.from_dict(
        {"answer": "A" * 5000, "code_runs": runs, "protocol": "dashscope", "status": "completed"}
    )
    packed = Results(2000, None).success(result, False)
    text = packed.content[0].text  # type: ignore[union-attr]
    told = text.split("\n[structuredContent was cut", 1)[0]
    assert least <= len(told) < len(result.answer), len(told)


@pytest.mark.parametrize(
    ("host", "root"), [("127.0.0.1", "http://127.0.0.1:8000"), ("0.0.0.0", "http://mcp.example.com")]
)
async def test_a_request_from_a_foreign_origin_gets_403_and_one_from_the_servers_own_is_served(
    host: str, root: str
) -> None:
    refused = _stated(r"Host/Origin checks against DNS rebinding stay on \(421/(\d+)\)").group(1)
    client = {"name": "t", "version": "1"}
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    server = create_server(api_key=PLANTED_KEY)
    credentials = Credentials.single(TOKEN)
    app = build_http_app(server, host=host, credentials=credentials, allowed_hosts=["mcp.example.com"])
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    with anyio.fail_after(20):
        async with (
            server.session_manager.run(),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=root) as http,
        ):
            foreign = await http.post("/mcp", json=init, headers={**headers, "Origin": "http://evil.example"})
            own = await http.post("/mcp", json=init, headers={**headers, "Origin": root})
    assert foreign.status_code == int(refused) and own.status_code == 200, (foreign.status_code, own.status_code)


def test_the_output_cap_holds_text_and_structured_content_together_the_text_at_most_half_as_help_and_readme_say() -> (
    None
):
    _stated(r"Both together stay within `--max-output-chars` \(\d+; the text takes at most half, not counting its note")
    parser = build_parser()
    assert "its text and structuredContent together" in _help_of(parser, _actions(parser)["--max-output-chars"])
    result = CodeInterpreterResult.from_dict(
        {"answer": "A" * 30_000, "reasoning": "R" * 30_000, "protocol": "dashscope", "status": "completed"}
    )
    packed = Results(10_000, None).success(result, True)
    text = packed.content[0].text  # type: ignore[union-attr]
    told, _note = text.split("\n[structuredContent was cut", 1)
    assert 4_000 < len(told) <= 5_000 and len(text) + size_of(packed.structured_content) <= 10_000


async def test_a_request_body_over_the_readmes_cap_is_refused_with_413() -> None:
    megabytes = int(_stated(r"request bodies are capped at (\d+) MB \(413 above\)").group(1))
    body = b'{"padding": "' + b"x" * int(megabytes * 1.03 * 10**6) + b'"}'  # 3% over: the envelope's room is less
    app = build_http_app(create_server(api_key=PLANTED_KEY), host="127.0.0.1", credentials=Credentials.single(TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        response = await http.post("/mcp", content=body, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 413


class _StoreBackAfter:
    """A shared run store that cannot be reached for its first *down* listens, then listens (and then holds)."""

    def __init__(self, down: int) -> None:
        self.down, self.listening = down, anyio.Event()

    async def cancels(self, on_listening: Callable[[], None]) -> AsyncIterator[tuple[str, str]]:
        if self.down:
            self.down -= 1
            raise StoreUnavailable("connection refused")
        on_listening()
        self.listening.set()
        await anyio.Event().wait()
        yield ("", "")  # never reached: makes this an async generator, as a store's is


async def test_a_replica_listens_for_cancels_again_within_the_readmes_second_of_the_stores_return(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "within a second of its return every replica listens for cancels again" in _folded(README)
    waits: list[float] = []
    real_sleep = anyio.sleep

    async def sleep(seconds: float) -> None:  # the time between two tries, without spending it
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(anyio, "sleep", sleep)
    store = _StoreBackAfter(down=3)
    link = StoreLink(store, Ops())  # type: ignore[arg-type]
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(link.listen_for_cancels, lambda principal, request_id: None)
            await store.listening.wait()
            tasks.cancel_scope.cancel()
    assert len(waits) == 3 and all(0 < wait <= 1.0 for wait in waits), waits


# --- the settings every face takes ----------------------------------------------------------------------


def _configuration_table() -> dict[str, str]:
    """keyword -> the default column of the README's configuration table, units dropped ("180 s" -> "180")."""
    table = README.split("| keyword | CLI | environment | default | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {row[0].strip("`"): row[3].strip("`").removesuffix(" s") for row in rows}


_FACE_SETTINGS = ["region", "protocol", "model", "connect_timeout", "idle_timeout", "total_timeout", "max_retries"]


def test_with_nothing_set_each_setting_takes_the_default_in_the_readmes_configuration_table() -> None:
    stated = _configuration_table()
    s = resolve_settings(env={})
    assert {name: _shown(getattr(s, name) or "beijing") for name in _FACE_SETTINGS} == {
        name: stated[name] for name in _FACE_SETTINGS
    }


@pytest.mark.parametrize("face", ["qwen-ci-mcp", "ask", "batch", "doctor"])
def test_each_setting_flag_prints_the_default_in_the_readmes_configuration_table(face: str) -> None:
    stated = _configuration_table()
    parser = build_parser() if face == "qwen-ci-mcp" else _subparser(face)
    actions = _actions(parser)
    for name in _FACE_SETTINGS:
        action = actions["--" + name.replace("_", "-")]
        assert re.search(rf"\(default {re.escape(stated[name])}[;)]", _help_of(parser, action)), (face, name)


def test_qwen_ci_batch_runs_the_readmes_default_number_of_calls_at_once() -> None:
    stated = _stated(r"at most `concurrency` calls at a time \(default (\d+)\)").group(1)
    assert f"run_many(tasks, concurrency={stated})" in README
    parser = _subparser("batch")
    action = _actions(parser)["--concurrency"]
    assert _shown(parser.parse_args(["in.jsonl", "-o", "out.jsonl"]).concurrency) == stated
    assert f"(default {stated})" in _help_of(parser, action)


# --- run_many's limiter --------------------------------------------------------------------------------------


def test_after_a_cut_admissions_bring_the_start_rate_back_to_the_refused_one_in_the_readmes_count() -> None:
    within = int(_stated(r"from the cut back to the refused rate within (\d+) admissions").group(1))
    limiter = AdaptiveLimiter(64)
    limiter.finish(limiter.start(0.0), 0.0, "rate_limited", retry_after=0.1)  # refused at 10 starts a second
    limiter.finish(limiter.start(1.0), 1.0, "ok")  # the first start after the pause neither cuts nor probes
    now, seen = 1.0, []
    for _ in range(within + 8):
        now += 1 / limiter.rate  # type: ignore[operator]
        ticket = limiter.start(now)
        limiter.finish(ticket, now, "ok")
        seen.append(limiter.rate)
    assert seen[within - 2] < 10.0 and seen[within - 1] == pytest.approx(10.0), seen[within - 3 : within + 1]


def test_without_a_named_wait_each_admission_raises_the_start_rate_by_the_readmes_share() -> None:
    share = float(_stated(r"the rate then climbs by ([\d.]+)% per admission").group(1)) / 100
    limiter = AdaptiveLimiter(64)
    for at in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        limiter.admitted(limiter.start(at), at)
    limiter.finish(limiter.start(1.0), 1.0, "rate_limited")  # no Retry-After: what was admitted is allowed
    rates = [limiter.rate]
    for i, ticket in enumerate([limiter.start(3.0) for _ in range(12)]):
        limiter.admitted(ticket, 3.0 + 0.001 * i)  # admitted back to back: fast enough for any climb
        rates.append(limiter.rate)
    steps = [after / before for before, after in itertools.pairwise(rates)]  # type: ignore[operator]
    assert max(steps) == pytest.approx(1 + share) and steps[-1] == pytest.approx(1 + share), steps


# --- telemetry ----------------------------------------------------------------------------------------------


def test_the_variable_the_readme_names_puts_the_question_into_the_call_span(
    otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = _stated(r"\(`gen_ai.input.messages`.*?only with `([A-Z_]+)=true`").group(1)
    monkeypatch.setenv(variable, "true")
    with Emulator() as emu, CodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as ci:
        ci.run(SEED_QUESTION)
    attributes = dict(otel.call_span().attributes or {})
    assert SEED_QUESTION in str(attributes.get("gen_ai.input.messages")), sorted(attributes)


# --- deploy/ ------------------------------------------------------------------------------------------------


def test_the_deploy_files_are_what_the_readme_says_they_are() -> None:
    deploy = README.split("#### Deploy: a container, three replicas behind nginx", 1)[1].split("\n#", 1)[0]
    deploy = _folded(deploy)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    compose = (ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8")
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    base = re.search(r"`Dockerfile` \((python:[\w.-]+),", deploy)
    user = re.search(r"extra, user (\d+),", deploy)
    port = re.search(r"Point a client at `http://HOST:(\d+)/mcp`", deploy)
    assert base and user and port and "three replicas behind nginx" in deploy and "hour-long read timeouts" in deploy
    assert re.search(rf"^ARG PYTHON_IMAGE={re.escape(base.group(1))}$", dockerfile, re.M)
    assert re.search(rf"^USER {user.group(1)}:{user.group(1)}$", dockerfile, re.M)
    assert re.search(r"^\s+replicas: 3$", compose, re.M)
    assert f'ports: ["{port.group(1)}:8080"]' in compose and "listen 8080" in nginx
    assert re.search(r"^\s+proxy_read_timeout 3600s;$", nginx, re.M)  # an hour


# --- development --------------------------------------------------------------------------------------------


def test_the_readmes_development_numbers_are_the_makefiles_and_pyprojects() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    workers = _stated(r"which run on (\w+) pytest-xdist workers").group(1)
    assert re.search(rf"^TEST_WORKERS \?= {['zero', 'one', 'two', 'three', 'four'].index(workers)}$", makefile, re.M)
    python = _stated(r"On a fresh machine with Python >= ([\d.]+),").group(1)
    assert f'requires-python = ">={python}"' in pyproject
    assert f"sys.version_info >= ({python.replace('.', ', ')})" in makefile
    pip = _stated(r"which needs pip >= ([\d.]+)").group(1)
    assert f'"pip>={pip}"' in makefile
