"""``qwen-ci-mcp`` in process, up to where it would serve (issue 26, mutation sweep of ``__main__``): what it
hands the stdio and HTTP servers, what its start lines say, what its logs mask, the names and exit codes
of its refusals. Each test was checked to fail with the break it names (mutmut, or by hand)."""

from __future__ import annotations

import inspect
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_OUTPUT_CHARS, DEFAULT_MAX_WAIT, RESULT_TOOL_NAME, TOOL_NAME
from mcp_server import _stdio as stdio_module
from mcp_server.__main__ import _knobs, build_parser, main
from mcp_server._fit import size_of
from mcp_server._logs import MASK
from mcp_server.http import app as http_app
from mcp_server.http.app import ListenError
from mcp_server.http.auth import Credentials
from qwen_ci_tool import __version__
from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_tool import text_of

TOKEN = "shared-token-0123456789"
ALICE = "alice-token-0123456789abcdef"
CAROL = "carol-token-a1b2c3d4e5f6g7h8"
#: What a fake server does once "serving" (log a line, raise, call the tool...), given the server and its settings.
Serving = Callable[[MCPServer, dict[str, Any]], Any]


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Serving], list[dict[str, Any]]]]:
    """Both servers faked: ``serve(then)`` makes each record what it was given and then run *then*.

    No key in the environment unless a test sets one; the root logger and the noisy loggers are kept.
    """
    seen: list[dict[str, Any]] = []
    then: list[Serving] = []

    async def fake_serve_http(server: MCPServer, **settings: Any) -> None:
        seen.append({"transport": "streamable-http", "server": server, **settings})
        for step in then:
            if inspect.isawaitable(done := step(server, settings)):
                await done

    async def fake_serve_stdio(server: MCPServer, **settings: Any) -> None:
        seen.append({"transport": "stdio", "server": server, **settings})
        for step in then:
            if inspect.isawaitable(done := step(server, settings)):
                await done

    monkeypatch.setattr(http_app, "serve_http", fake_serve_http)
    monkeypatch.setattr(stdio_module, "serve_stdio", fake_serve_stdio)
    for name in (SETTINGS["api_key"].env, *SETTINGS["api_key"].vendor_env, "QWEN_CI_MCP_RUN_STORE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("QWEN_CI_MCP_AUTH_TOKEN", "QWEN_CI_MCP_AUTH_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    loggers = [logging.getLogger(name) for name in ("", "httpx", "mcp.server.streamable_http")]
    handlers, levels = loggers[0].handlers[:], [logger.level for logger in loggers]

    def configure(step: Serving | None = None) -> list[dict[str, Any]]:
        if step is not None:
            then.append(step)
        return seen

    try:
        yield configure
    finally:
        loggers[0].handlers[:] = handlers
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def log_line(message: str, *args: object) -> Serving:
    return lambda _server, _settings: logging.getLogger("mcp_server").warning(message, *args)


# --- what each server is given -------------------------------------------------------------------


def test_stdio_is_the_default_and_gets_the_server_and_the_shutdown_grace(serve: Any) -> None:
    seen = serve()
    assert main(["--shutdown-grace", "7.5"]) == 0
    [given] = seen
    assert given["transport"] == "stdio" and given["shutdown_grace"] == 7.5
    assert isinstance(given["server"], MCPServer)


def test_the_http_server_gets_the_address_port_tokens_hosts_and_grace_it_was_given(serve: Any) -> None:
    seen = serve()
    argv = ["--transport", "streamable-http", "--host", "0.0.0.0", "--port", "8123", "--auth-token", TOKEN]
    argv += ["--allowed-host", "mcp.example.com", "--allowed-host", "10.0.0.5:8123", "--shutdown-grace", "4"]
    assert main(argv) == 0
    [given] = seen
    assert (given["host"], given["port"], given["shutdown_grace"]) == ("0.0.0.0", 8123, 4.0)
    assert given["allowed_hosts"] == ["mcp.example.com", "10.0.0.5:8123"]
    credentials = given["credentials"]
    assert isinstance(credentials, Credentials) and credentials.client_for(TOKEN.encode()) == "default"
    assert isinstance(given["server"], MCPServer)


def test_the_http_server_defaults_to_loopback_port_8000_without_tokens(serve: Any) -> None:
    seen = serve()
    assert main(["--transport", "streamable-http"]) == 0
    [given] = seen
    assert (given["host"], given["port"], given["credentials"], given["allowed_hosts"]) == ("127.0.0.1", 8000, None, [])


def test_a_token_file_named_only_in_the_environment_is_used(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = serve()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice:{ALICE}\n")
    monkeypatch.setenv("QWEN_CI_MCP_AUTH_TOKEN_FILE", str(tokens))
    assert main(["--transport", "streamable-http", "--host", "0.0.0.0"]) == 0
    assert seen[0]["credentials"].client_for(ALICE.encode()) == "alice"


def test_ctrl_c_while_serving_exits_130_and_a_port_in_use_exits_2_with_the_servers_words(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    failures: list[BaseException] = [
        KeyboardInterrupt(),
        ListenError("cannot listen on 127.0.0.1:8000: taken; use --port"),
    ]

    def fail(_server: MCPServer, _settings: dict[str, Any]) -> None:
        raise failures.pop(0)

    serve(fail)
    assert main(["--transport", "streamable-http"]) == 130
    capsys.readouterr()
    assert main(["--transport", "streamable-http"]) == 2
    assert capsys.readouterr().err.endswith("qwen-ci-mcp: error: cannot listen on 127.0.0.1:8000: taken; use --port\n")


# --- the name it answers to ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv0", "name"),
    [
        (["/opt/venv/bin/qwen-ci-tool"], "qwen-ci-tool"),
        (["C:/venv/Scripts/qwen-ci-tool.exe", "--port"], "qwen-ci-tool"),
        (["/usr/lib/python3/site-packages/mcp_server/__main__.py"], "qwen-ci-mcp"),
        ([], "qwen-ci-mcp"),
    ],
)
def test_messages_name_the_script_it_was_started_as_and_qwen_ci_mcp_otherwise(
    argv0: list[str], name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", argv0)
    assert main(["--shutdown-grace", "-1"]) == 2
    assert capsys.readouterr().err.startswith(f"{name}: error: --shutdown-grace must be")
    assert build_parser().prog == name


# --- refusals: exit 2, one line naming the fix ----------------------------------------------------


def test_a_public_address_without_a_token_is_refused_naming_every_way_to_give_one(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = serve()
    assert main(["--transport", "streamable-http", "--host", "0.0.0.0"]) == 2
    assert capsys.readouterr().err == (
        "qwen-ci-mcp: error: refusing to listen on 0.0.0.0 without a bearer token: pass --auth-token or set "
        "QWEN_CI_MCP_AUTH_TOKEN, or give a token file (--auth-token-file or QWEN_CI_MCP_AUTH_TOKEN_FILE) "
        "(or bind 127.0.0.1).\n"
    )
    assert seen == []


@pytest.mark.parametrize("token", ["tökentökentökentöken", "token-with-a-bell\a-0123"])
def test_a_token_that_is_not_printable_ascii_is_refused_with_what_it_must_be(
    token: str, serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--transport", "streamable-http", "--auth-token", token]) == 2
    assert capsys.readouterr().err == "qwen-ci-mcp: error: the auth token must be printable ASCII without spaces.\n"


def test_a_short_token_is_refused_with_the_command_that_makes_a_good_one(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--transport", "streamable-http", "--auth-token", "short-token"]) == 2
    assert capsys.readouterr().err.endswith(
        "; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'\n"
    )


# --- what the logs say and mask ------------------------------------------------------------------


def test_the_key_and_every_token_of_the_file_are_masked_in_log_lines_also_after_a_reload(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"alice:{ALICE}\n")

    def reload_then_log(_server: MCPServer, settings: dict[str, Any]) -> None:
        log_line("before: %s %s", PLANTED_KEY, ALICE)(_server, settings)
        tokens.write_text(f"carol:{CAROL}\n")
        assert settings["credentials"].reload()
        log_line("after: %s", CAROL)(_server, settings)

    serve(reload_then_log)
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    assert main(["--transport", "streamable-http", "--auth-token-file", str(tokens)]) == 0
    err = capsys.readouterr().err

    assert f"before: {MASK} {MASK}\n" in err and f"after: {MASK}\n" in err
    assert PLANTED_KEY[:12] not in err and ALICE[:12] not in err and CAROL[:12] not in err


def test_a_shared_token_is_masked_in_log_lines(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(log_line("token %s", TOKEN))
    monkeypatch.setenv("QWEN_CI_MCP_AUTH_TOKEN", TOKEN)
    assert main(["--transport", "streamable-http"]) == 0
    err = capsys.readouterr().err
    assert f"token {MASK}\n" in err and TOKEN not in err


def test_json_log_lines_carry_the_client_of_the_context(serve: Any, capsys: pytest.CaptureFixture[str]) -> None:
    serve(log_line("hello %s", "there"))
    assert main(["--transport", "streamable-http", "--log-format", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [hello] = [line for line in lines if line["message"] == "hello there"]
    assert hello["client"] == "local" and hello["level"] == "WARNING" and "request_id" in hello


def test_the_start_line_names_the_version_tool_transport_model_protocol_and_service_root(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    serve()
    argv = ["--transport", "streamable-http", "--model", "qwen-test-model", "--protocol", "responses"]
    assert main([*argv, "--base-url", "http://127.0.0.1:9"]) == 0
    err = capsys.readouterr().err
    assert (
        f" INFO mcp_server: qwen-ci-mcp {__version__}: {TOOL_NAME} over streamable-http; "
        "model qwen-test-model via responses at http://127.0.0.1:9\n"
    ) in err
    assert "runs kept in" not in err  # the default store, this process: nothing to say


def test_a_shared_run_store_is_named_in_the_start_lines_without_its_password(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    serve()
    assert main(["--run-store", "redis://:s3cret-pass@cache.internal:6380/0"]) == 0
    err = capsys.readouterr().err
    assert "INFO mcp_server: runs kept in redis://:***@cache.internal:6380/0, shared by every replica given it\n" in err
    assert "s3cret-pass" not in err


def test_the_emulator_serves_on_its_own_address_says_so_and_does_not_warn_about_a_key(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = serve()
    assert main(["--emulator", "--transport", "streamable-http"]) == 0
    err = capsys.readouterr().err

    assert len(seen) == 1 and " via dashscope at http://127.0.0.1:" in err
    assert "--emulator: calls are answered by the built-in emulator (scripted answers, no key needed)" in err
    assert "is not set" not in err


def test_without_a_key_the_start_lines_warn_once_with_where_to_put_it(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    serve()
    assert main([]) == 0
    err = capsys.readouterr().err
    assert err.count("WARNING") == 1
    assert (
        " WARNING mcp_server: DASHSCOPE_API_KEY is not set: the tool is listed, but every call will return an error "
        'saying how to set it (in the MCP client config\'s "env" block).\n'
    ) in err


def test_the_emulator_answers_a_call_through_the_server_the_command_built(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    answers: list[Any] = []

    async def ask(server: MCPServer, _settings: dict[str, Any]) -> None:
        async with Client(server) as client:
            with anyio.fail_after(30):
                answers.append(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))

    serve(ask)
    assert main(["--emulator"]) == 0
    assert not answers[0].is_error and SEED_ANSWER in text_of(answers[0])
    assert (
        " INFO mcp_server: --emulator: calls are answered by the built-in emulator (scripted answers, no key needed)\n"
    ) in capsys.readouterr().err


def test_limits_given_as_flags_are_taken_as_numbers(serve: Any) -> None:
    seen = serve()
    argv = ["--max-concurrency", "2", "--max-output-chars", "3000", "--max-wait", "1.5", "--result-ttl", "60.5"]
    # --result-ttl takes fractions of a second as --max-wait does (audit 12's m06: type=int refused it).
    assert main([*argv, "--shutdown-grace", "0.5"]) == 0 and len(seen) == 1


def test_a_bad_setting_in_the_environment_ends_the_start_with_its_variable_named(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QWEN_CI_IDLE_TIMEOUT", "-1")
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("qwen-ci-mcp: error: Invalid QWEN_CI_IDLE_TIMEOUT: -1.0. --idle-timeout")


def test_a_refused_setting_is_named_as_given_the_run_store_by_its_flag_or_variable_the_rest_by_flag(
    serve: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QWEN_CI_MCP_RUN_STORE", "redis://127.0.0.1:1/0")
    assert main(["--run-store", "/var/lib/runs"]) == 2  # both set: the flag wins, and is named
    err = capsys.readouterr().err
    assert "--run-store must be 'memory' or a Redis URL" in err and "QWEN_CI_MCP_RUN_STORE" not in err
    assert main(["--max-wait", "-1"]) == 2  # the store from the variable; another setting is still a flag
    assert "--max-wait must be a number of seconds" in capsys.readouterr().err
    knobs = _knobs(build_parser().parse_args([]))
    assert knobs.render("set {run_store:memory}, or fix {run_store}") == (
        "set QWEN_CI_MCP_RUN_STORE=memory, or fix QWEN_CI_MCP_RUN_STORE"
    )
    assert knobs.render("{idle_timeout} or {region:singapore}") == "--idle-timeout or --region singapore"


def test_the_version_flag_prints_the_script_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"qwen-ci-mcp {__version__}\n"


def test_the_help_says_where_the_key_goes_and_what_each_server_flag_does_with_its_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    result = RESULT_TOOL_NAME
    for expected in [
        f"MCP server with one tool, {TOOL_NAME}: Qwen's code interpreter on Alibaba Cloud Model Studio (DashScope). "
        "The API key is read from DASHSCOPE_API_KEY. options:",
        "--emulator a keyless trial: serve the tool on the built-in emulator of the service (no key, no network; "
        "scripted answers, not computed) --log-level",
        "{DEBUG,INFO,WARNING,ERROR} stderr log level --log-format {text,json} stderr lines: text, or one JSON object "
        "a line transport:",
        "--transport {stdio,streamable-http} default: stdio --host HOST HTTP bind address (default 127.0.0.1; others "
        "need a token) --port PORT HTTP port (default 8000) --auth-token AUTH_TOKEN bearer token HTTP clients must "
        "send (or set QWEN_CI_MCP_AUTH_TOKEN; the variable keeps it out of `ps`) --auth-token-file PATH file of "
        "'name:token' lines, one per client (or set QWEN_CI_MCP_AUTH_TOKEN_FILE); the name labels logs and metrics; "
        "re-read on SIGHUP --allowed-host HOST[:PORT] extra Host header value to accept when bound beyond loopback "
        "(repeatable) Qwen / DashScope:",
        f"limits: --max-concurrency MAX_CONCURRENCY upstream calls at once; more wait (default "
        f"{DEFAULT_MAX_CONCURRENCY}) --max-output-chars MAX_OUTPUT_CHARS cap on the characters a result returns, its "
        f"text and structuredContent together (default {DEFAULT_MAX_OUTPUT_CHARS}) long calls:",
        f"--max-wait SECONDS hold a call at most this long, then answer with a run_id for {result} (default "
        f"{DEFAULT_MAX_WAIT:g}; 0 = hold every call to its end) --result-ttl SECONDS keep a finished run's result "
        f"this long for {result} (default 600) --run-store URL where runs are kept: 'memory' (this process, the "
        "default) or redis://HOST:PORT/DB (rediss:// for TLS) shared by every replica, so any replica answers "
        f"{result} and routes cancels (or set QWEN_CI_MCP_RUN_STORE) --shutdown-grace SECONDS on SIGTERM/SIGINT (or "
        "end of input over stdio): refuse new calls, let calls in flight finish, cancel the rest with their partial "
        "results, deliver and exit, all within this long (calls get it less a quarter, at most 3 s, for the rest) "
        "(default 30) MCP clients start servers with an almost empty environment: put DASHSCOPE_API_KEY in the "
        'client config\'s "env" block.',
    ]:
        assert expected in text, re.sub(r"(?s).*?(" + re.escape(expected[:30]) + ")", r"\1", text)[:400]


@pytest.mark.parametrize(("level", "uvicorn_level"), [("DEBUG", "info"), ("INFO", "warning"), ("ERROR", "warning")])
def test_the_http_servers_own_lines_are_shown_only_at_debug_level(serve: Any, level: str, uvicorn_level: str) -> None:
    seen = serve()
    assert main(["--transport", "streamable-http", "--log-level", level]) == 0
    assert seen[0]["log_level"] == uvicorn_level


def test_the_limits_given_as_flags_are_the_ones_the_server_applies(
    serve: Any, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.add_fault(Fault.finish_reason("length"))  # a long incomplete answer, reasoning included: cut to the cap
    seen: list[Any] = []

    async def ask(server: MCPServer, _settings: dict[str, Any]) -> None:
        async with Client(server) as client:
            with anyio.fail_after(30):
                seen.append({tool.name: tool.description for tool in (await client.list_tools()).tools})
                seen.append(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION, "include_reasoning": True}))

    serve(ask)
    monkeypatch.setenv(SETTINGS["api_key"].env, PLANTED_KEY)
    argv = ["--base-url", emu.base_url, "--max-retries", "0", "--max-output-chars", "2000"]
    assert main([*argv, "--max-wait", "1.5", "--result-ttl", "60"]) == 0
    descriptions, capped = seen
    assert "Waits up to 1.5 s" in descriptions[RESULT_TOOL_NAME]
    assert "Results are kept 60 s after a run ends" in descriptions[RESULT_TOOL_NAME]
    assert capped.structured_content is not None
    assert len(text_of(capped)) + size_of(capped.structured_content) <= 2000


@pytest.mark.parametrize(("argv", "token_used"), [([], True), (["--auth-token", ""], False)], ids=["env", "empty-flag"])
def test_an_empty_auth_token_flag_overrides_the_token_in_the_environment(
    serve: Any, monkeypatch: pytest.MonkeyPatch, argv: list[str], token_used: bool
) -> None:
    # The flag, when given, wins over QWEN_CI_MCP_AUTH_TOKEN, also when it is empty (no token), as for every setting.
    seen = serve()
    monkeypatch.setenv("QWEN_CI_MCP_AUTH_TOKEN", TOKEN)
    assert main(["--transport", "streamable-http", *argv]) == 0
    credentials = seen[0]["credentials"]
    if token_used:
        assert credentials is not None and credentials.client_for(TOKEN.encode()) == "default"
    else:
        assert credentials is None


@pytest.mark.parametrize(("argv", "file_used"), [([], True), (["--auth-token-file", ""], False)], ids=["env", "empty"])
def test_an_empty_auth_token_file_flag_overrides_the_token_file_in_the_environment(
    serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str], file_used: bool
) -> None:
    # The same rule for the token file: the flag, when given (even empty: no file), wins over its variable.
    seen = serve()
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"alice:{TOKEN}\n", encoding="utf-8")
    monkeypatch.setenv("QWEN_CI_MCP_AUTH_TOKEN_FILE", str(tokens))
    assert main(["--transport", "streamable-http", *argv]) == 0
    credentials = seen[0]["credentials"]
    if file_used:
        assert credentials is not None and credentials.client_for(TOKEN.encode()) == "alice"
    else:
        assert credentials is None
