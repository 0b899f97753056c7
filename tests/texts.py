"""The texts catalogue: every text a person or a model reads from the tool, rendered in one file.

``tests/data/texts.txt`` holds what each text says today: the MCP tools' descriptions, schemas and
annotations, the server's other answers, both command lines' help, the LangChain tool, every failure
message and every refusal of bad input with its hint spelt for each face (Python, CLI, MCP, LangChain),
the result texts, and what each face prints at work (tool calls, ToolMessages, ``qwen-ci`` sessions, the
HTTP front, the server's log). A wording changed by mistake (a lost line continuation, a stale number, two
sentences swapped, a hint naming the wrong setting) fails ``tests/test_texts.py`` with a diff; a change
meant is written with

    python -m tests.texts --write

and reviewed in the diff of ``tests/data/texts.txt`` like any other change.

Failures, refusals and results are built by the functions that word them, from fixed inputs that walk
each branch of their hints; the faces at work run against the emulator on 127.0.0.1 (and the server as a
subprocess), with what varies between runs (ports, ids, durations) normalised.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx

from integrations._langchain_fold import LANGCHAIN, tool_output
from integrations.langchain import QwenCodeInterpreterTool
from mcp_server import _texts as T
from mcp_server import create_server
from mcp_server.__main__ import build_parser as mcp_parser
from qwen_ci_tool import __version__
from qwen_ci_tool import _errors as E
from qwen_ci_tool import _exceptions as X
from qwen_ci_tool._classify import ServiceFailure
from qwen_ci_tool._constants import ENV_API_KEY, REGION_ROOTS
from qwen_ci_tool._explain import error_dict, for_agent, incomplete_for_agent, retry_advice
from qwen_ci_tool._knobs import PYTHON, Knobs
from qwen_ci_tool._model_table import MODELS
from qwen_ci_tool._result import CodeInterpreterResult, result_markdown
from qwen_ci_tool._types import CodeRun, Step, Timings, Usage
from qwen_ci_tool.cli.common import for_person
from qwen_ci_tool.cli.flags import CLI
from qwen_ci_tool.cli.main import _parser as cli_parser
from qwen_ci_tool.cli.main import main as cli_main
from qwen_ci_tool.testing import SEED_QUESTION, TWO_RUN_QUESTION, Emulator

PATH = Path(__file__).resolve().parent / "data" / "texts.txt"
#: The key the texts are rendered with: it must never show in them.
KEY = "sk-texts-catalogue-0123456789-SECRET"
#: Help is wrapped to this width (argparse reads COLUMNS).
COLUMNS = "100"
#: The header line naming the Python whose argparse wrapped the help (its layout changes between versions).
HELP_VERSION = "# Help as argparse of Python "
#: The section whose layout depends on the Python version.
HELP_SECTION = "== Command lines"
FACES: tuple[tuple[str, Knobs], ...] = (("python", PYTHON), ("cli", CLI), ("mcp", T.MCP), ("langchain", LANGCHAIN))


# --- failures -----------------------------------------------------------------------------------


def _context(base_url: str, *, model: str = "qwen3-max", protocol: str = "dashscope", **more: Any) -> E.ErrorContext:
    return E.ErrorContext(base_url=base_url, model=model, protocol=protocol, **more)


BEIJING = _context(REGION_ROOTS["beijing"])
SINGAPORE = _context(REGION_ROOTS["singapore"])
CHOSEN_ROOT = _context(REGION_ROOTS["singapore"], custom_base_url=True)
CHOSEN_HOST = _context("https://proxy.example.com", custom_base_url=True)


def _connect(message: str, cause: BaseException | None) -> httpx.ConnectError:
    err = httpx.ConnectError(message)
    err.__cause__ = cause
    return err


def errors() -> Iterator[tuple[str, X.QwenCIError]]:
    """(label, error) for each way a failure is worded: each branch of the hints once."""
    url = REGION_ROOTS["beijing"]
    yield "400 InvalidParameter, no context", E.status_error(400, "InvalidParameter", "bad parameter.")
    yield "400 InvalidParameter", E.status_error(400, "InvalidParameter", "bad parameter", context=BEIJING)
    yield "400 no message", E.status_error(400, None, None, request_id="req-1", context=BEIJING)
    yield "400 url error, native", E.status_error(400, "InvalidParameter", "url error", context=BEIJING)
    yield (
        "400 url error, unknown model",
        E.status_error(400, "InvalidParameter", "url error, check it", context=_context(url, model="qwen9-new")),
    )
    yield "401 InvalidApiKey, no context", E.status_error(401, "InvalidApiKey", "Invalid API-key provided.")
    yield "401 InvalidApiKey, Beijing", E.status_error(401, "InvalidApiKey", "Invalid API-key", context=BEIJING)
    yield "401 InvalidApiKey, Singapore", E.status_error(401, "InvalidApiKey", "Invalid API-key", context=SINGAPORE)
    yield "401 chosen region root", E.status_error(401, "InvalidApiKey", "Invalid API-key", context=CHOSEN_ROOT)
    yield "401 chosen host", E.status_error(401, "InvalidApiKey", "Invalid API-key", context=CHOSEN_HOST)
    for source in ("api_key", "DASHSCOPE_API_KEY_FILE_PATH", "QWEN_KEY"):
        yield (
            f"401 key from {source}",
            E.status_error(401, "InvalidApiKey", "Invalid API-key", context=_context(url, key_source=source)),
        )
    yield "403 AccessDenied", E.status_error(403, "AccessDenied", "Access denied.", context=BEIJING)
    yield "403 AccessDenied, no context", E.status_error(403, "AccessDenied", "Access denied.")
    yield (
        "403 AccessDenied, undocumented pair",
        E.status_error(403, "AccessDenied", "denied", context=_context(url, model="qwen3-max", protocol="openai")),
    )
    yield "403 Model.AccessDenied", E.status_error(403, "Model.AccessDenied", "Model access denied.", context=BEIJING)
    yield "404 Model.NotExist", E.status_error(404, "Model.NotExist", "Model not exist.", context=BEIJING)
    yield "404 no context", E.status_error(404, None, "not found")
    yield "404 model_not_found", E.status_error(400, "model_not_found", "no such model", context=SINGAPORE)
    yield "429 Throttling", E.status_error(429, "Throttling.RateQuota", "Requests rate limit exceeded", context=BEIJING)
    yield "429 with Retry-After", E.status_error(429, "Throttling", "slow down", retry_after=2.5, context=BEIJING)
    yield "429 insufficient_quota", E.status_error(429, "insufficient_quota", "You exceeded your quota")
    yield (
        "400 Arrearage",
        E.status_error(400, "Arrearage", "Access denied, please make sure your account is in good standing."),
    )
    yield "429 Throttling.AllocationQuota", E.status_error(429, "Throttling.AllocationQuota", "quota exhausted")
    yield (
        "400 DataInspectionFailed",
        E.status_error(400, "DataInspectionFailed", "Input data may contain inappropriate content."),
    )
    yield (
        "500 InternalError",
        E.status_error(500, "InternalError", "An internal error has occured, please try again later."),
    )
    yield (
        "503 with Retry-After",
        E.status_error(503, "ServiceUnavailable", "overloaded", retry_after=30, context=BEIJING),
    )
    yield (
        "in-band 500",
        E.service_error(ServiceFailure(500, "InternalError", "model failed", "req-2", in_band=True), None, BEIJING),
    )
    for info in MODELS:
        model = info.pattern.replace("*", "")
        for protocol in ("dashscope", "openai", "responses"):
            if E.protocol_hint(model, protocol) is not None:
                context = _context(url, model=model, protocol=protocol)
                yield f"400 {model} over {protocol}", E.status_error(400, "InvalidParameter", "bad", context=context)
    yield "no key", E.missing_key_error()
    for kind in ("connect", "idle", "total"):
        yield f"timeout {kind}", E.timeout_error(kind, base_url=url, seconds=12.5)
    yield (
        "connect: TLS",
        E.connect_error(_connect("cert failed", ssl.SSLCertVerificationError(1, "verify failed")), url),
    )
    yield (
        "connect: DNS",
        E.connect_error(_connect("no name", socket.gaierror(-2, "Name or service not known")), url),
    )
    yield (
        "connect: refused",
        E.connect_error(_connect("refused", ConnectionRefusedError(111, "Connection refused")), url),
    )
    yield "connect: other", E.connect_error(httpx.ConnectError(""), url)
    yield "broken, started", E.broken_connection_error(httpx.ReadError("peer closed"), url, started=True)
    yield "broken, not started", E.broken_connection_error(httpx.ReadError(""), url, started=False)
    yield "ended early", E.ended_early_error("req-3")
    yield "ended before usage", E.ended_before_usage_error("stop", "openai", None)
    yield "empty stream", E.empty_stream_error(None)
    yield "not an event stream", E.not_an_event_stream_error("text/html", 200, "req-4")
    yield "not an event stream, no type", E.not_an_event_stream_error("", 200, None)
    yield "shape", E.shape_error(TypeError("list indices must be integers or slices, not str"))
    yield "malformed JSON", E.malformed_json_error("Expecting value: line 1 column 1 (char 0)", "{oops")
    yield "SSE line without end", E.worded(X.ProtocolError("The stream ended inside a line."))
    yield "proxy: SOCKS", E.proxy_unusable_error("HTTPS_PROXY", "socks5://proxy:1080", socks=True)
    yield "proxy: unknown kind", E.proxy_unusable_error("ALL_PROXY", "ftp://proxy:21", socks=False)
    retried = E.status_error(500, "InternalError", "failed (after 2 attempts)")
    E.note_attempts(retried, 3)
    yield "attempts noted", retried
    partial = E.broken_connection_error(httpx.ReadError("reset"), url, started=True)
    partial.partial = seed_result(status="interrupted", finish_reason=None)
    yield "broken with a partial", partial


def failure_texts() -> Iterator[str]:
    for label, err in errors():
        yield f"=== {label}: {type(err).__name__}, retryable={err.retryable}"
        for face, knobs in FACES:
            yield f"{face}: {err.describe(knobs)}"
        yield f"cli (person): {for_person(err, CLI)}"
        yield f"retry: {retry_advice(err)}"
        data = error_dict(err, CLI)
        assert data.pop("message") == err.describe(CLI)
        yield f"json: {json.dumps(data, sort_keys=True)}"
        if err.partial is not None:
            yield "agent (mcp):"
            yield for_agent(err, T.MCP, tool=T.TOOL_NAME, max_chars=900)
        yield ""


# --- bad input, refused before anything is sent -----------------------------------------------------


def refusals(work: Path) -> Iterator[str]:
    """Each ConfigurationError a bad setting or a bad question gets, spelt for each face."""
    from qwen_ci_tool._config import build_messages, resolve_settings

    key_file = work / "key"
    settings: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("an unknown setting", {"modle": "qwen3-max"}, {}),
        ("an unknown protocol", {"protocol": "grpc"}, {}),
        ("an unknown region", {"region": "mars"}, {}),
        ("a region from the environment", {}, {"QWEN_CI_REGION": "mars"}),
        ("a protocol from the environment", {}, {"QWEN_CI_PROTOCOL": "grpc"}),
        ("a base URL without a scheme", {"base_url": "dashscope.aliyuncs.com"}, {}),
        ("a base URL of another scheme", {"base_url": "ftp://example.com"}, {}),
        ("a base URL with a path of its own", {"base_url": "https://example.com/api/v1/services"}, {}),
        ("a base URL from the environment", {}, {"DASHSCOPE_HTTP_BASE_URL": "example.com"}),
        ("a blank model", {"model": " "}, {}),
        ("a model with spaces around it", {"model": " qwen3-max"}, {}),
        ("negative retries", {"max_retries": -1}, {}),
        ("retries from the environment", {}, {"QWEN_CI_MAX_RETRIES": "many"}),
        ("a boolean for retries", {"max_retries": True}, {}),
        ("a negative timeout", {"idle_timeout": -5}, {}),
        ("a zero timeout", {"connect_timeout": 0}, {}),
        ("an infinite timeout", {"total_timeout": float("inf")}, {}),
        ("a timeout from the environment", {}, {"QWEN_CI_IDLE_TIMEOUT": "soon"}),
        ("extra parameters not a mapping", {"extra_parameters": ["seed"]}, {}),
        ("tools among the extra parameters", {"extra_parameters": {"tools": []}}, {}),
        ("thinking turned off", {"extra_parameters": {"enable_thinking": False}}, {}),
        ("the model through the extra parameters", {"extra_parameters": {"model": "x"}}, {}),
        ("extra parameters that are not JSON", {"extra_parameters": {"seed": float("nan")}}, {}),
        ("a responses path without its slash", {"responses_path": "compatible-mode/v1/responses"}, {}),
        ("a key file that is missing", {}, {"DASHSCOPE_API_KEY_FILE_PATH": str(key_file)}),
        ("a blank key", {"api_key": " "}, {}),
    ]
    for label, given, env in settings:
        try:
            resolve_settings(env=env, **given)
        except X.ConfigurationError as err:
            yield f"=== settings: {label}"
            for face, knobs in FACES:
                yield _varying(f"{face}: {err.describe(knobs)}".replace(str(work), "<dir>"))
        else:
            yield f"=== settings: {label}: accepted"
    questions: list[tuple[str, Any, Any]] = [
        ("neither a question nor messages", None, None),
        ("both", "hi", [{"role": "user", "content": "hi"}]),
        ("a question that is not text", 42, None),
        ("an empty question", "   ", None),
        ("a NUL character", "a\0b", None),
        ("a lone surrogate", "a\udcff", None),
        ("too long", "x" * 500_001, None),
        ("messages not a list", None, "hi"),
        ("a message not a dict", None, ["hi"]),
        ("an unknown role", None, [{"role": "tool", "content": "x"}]),
        ("a system message second", None, [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]),
        ("image content", None, [{"role": "user", "content": [{"image": "x.png"}]}]),
        ("content of another type", None, [{"role": "user", "content": 7}]),
        ("the assistant last", None, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
    ]
    for label, question, messages in questions:
        try:
            build_messages(question, messages)
        except X.ConfigurationError as err:
            yield f"=== question: {label}: {err.describe(PYTHON)}"
        else:
            yield f"=== question: {label}: accepted"
    yield ""


def emulator_refusals() -> Iterator[str]:
    """What a developer reads from the emulator (``qwen_ci_tool.testing``) and the key holder when an argument
    is wrong: each refused value beside the nearest accepted one, so that a moved boundary shows too."""
    from qwen_ci_tool._secret import Secret
    from qwen_ci_tool.testing import Fault, emulator_stream_path, synthetic_conversation
    from qwen_ci_tool.testing._script import CodeSegment

    def started_twice() -> None:
        with Emulator() as emu:
            emu.start()

    def secret_changed() -> None:
        secret = Secret("x")
        secret._value = "y"  # type: ignore[misc]

    cases: list[tuple[str, Callable[[], object]]] = [
        ("Fault.status(399)", lambda: Fault.status(399)),
        ("Fault.status(400)", lambda: Fault.status(400)),
        ("Fault.status(599)", lambda: Fault.status(599)),
        ("Fault.status(600)", lambda: Fault.status(600)),
        ("Fault.status(500, body='xml')", lambda: Fault.status(500, body="xml")),  # type: ignore[arg-type]
        ("Fault.status(500, body=b'raw')", lambda: Fault.status(500, body=b"raw")),
        ("Fault.truncate(0)", lambda: Fault.truncate(0)),
        ("Fault.truncate(1)", lambda: Fault.truncate(1)),
        ("Fault.drop(-1)", lambda: Fault.drop(-1)),
        ("Fault.drop(0)", lambda: Fault.drop(0)),
        ("Fault.stall(None)", lambda: Fault.stall(None)),
        ("Fault.error_event(spelling='error')", lambda: Fault.error_event(spelling="error")),  # type: ignore[arg-type]
        ("Fault.error_event(spelling='event: error')", lambda: Fault.error_event(spelling="event: error")),
        ("Fault.error_event(status_line='header')", lambda: Fault.error_event(status_line="header")),  # type: ignore[arg-type]
        ("Fault.error_event(status_line='none')", lambda: Fault.error_event(status_line="none")),
        ("Fault.drip(chunk=0)", lambda: Fault.drip(chunk=0)),
        ("Fault.drip(interval=-0.1)", lambda: Fault.drip(interval=-0.1)),
        ("Fault.drip(interval=0, chunk=1)", lambda: Fault.drip(interval=0, chunk=1)),
        ("Fault.chunks([])", lambda: Fault.chunks([])),
        ("Fault.chunks([1, 0])", lambda: Fault.chunks([1, 0])),
        ("Fault.chunks([1])", lambda: Fault.chunks([1])),
        ("Fault.line_endings('\\n\\r')", lambda: Fault.line_endings("\n\r")),
        ("Fault.line_endings('\\r')", lambda: Fault.line_endings("\r")),
        ("Fault.keepalive(0)", lambda: Fault.keepalive(0)),
        ("Fault.keepalive(1)", lambda: Fault.keepalive(1)),
        ("Fault.huge_line(0)", lambda: Fault.huge_line(0)),
        ("Fault.huge_line(1)", lambda: Fault.huge_line(1)),
        ("Fault.named('nope')", lambda: Fault.named("nope")),
        ("Fault.named('399')", lambda: Fault.named("399")),
        ("Fault.named('4290')", lambda: Fault.named("4290")),
        ("Fault.named('429')", lambda: Fault.named("429")),
        ("Emulator(block_size=0)", lambda: Emulator(block_size=0)),
        ("Emulator(block_size=1)", lambda: Emulator(block_size=1)),
        ("Emulator(rate_limit=0)", lambda: Emulator(rate_limit=0)),
        ("Emulator(rate_limit=1, rate_burst=0.5)", lambda: Emulator(rate_limit=1, rate_burst=0.5)),
        ("Emulator(rate_limit=1, rate_burst=1)", lambda: Emulator(rate_limit=1, rate_burst=1)),
        ("Emulator(rate_limit_headers='x-wait')", lambda: Emulator(rate_limit_headers="x-wait")),  # type: ignore[arg-type]
        ("Emulator().add_fault(..., times=0)", lambda: Emulator().add_fault(Fault.drop(), times=0)),
        ("Emulator().replay(b'data: 1', times=0)", lambda: Emulator().replay(b"data: 1", times=0)),
        ("Emulator().base_url, not started", lambda: Emulator().base_url),
        ("Emulator started twice", started_twice),
        ("synthetic_conversation(0)", lambda: synthetic_conversation(0)),
        ("synthetic_conversation(10, code_runs=-1)", lambda: synthetic_conversation(10, code_runs=-1)),
        ("synthetic_conversation(10, code_chars=0)", lambda: synthetic_conversation(10, code_chars=0)),
        ("synthetic_conversation(1, code_runs=0, code_chars=1)", lambda: synthetic_conversation(1, 0, 1)),
        ("CodeSegment with growth short of its code", lambda: CodeSegment("print(1)", "1", 10, growth=(0, 3))),
        ("emulator_stream_path('nope')", lambda: emulator_stream_path("nope")),
        ("Secret: changed", secret_changed),
        ("Secret: pickled", lambda: __import__("pickle").dumps(Secret("x"))),
    ]
    for label, make in cases:
        try:
            make()
        except Exception as exc:  # the catalogue records whatever is raised
            yield f"=== {label}: {type(exc).__name__}: {exc}"
        else:
            yield f"=== {label}: accepted"
    yield ""


# --- results ------------------------------------------------------------------------------------


def seed_result(
    *, status: str = "completed", finish_reason: str | None = "stop", protocol: str = "dashscope"
) -> CodeInterpreterResult:
    code = "x = 123 ** 21\nprint(x)"
    output = "77269364249128133542834377077802491249125349" if protocol == "responses" else None
    return CodeInterpreterResult(
        answer="123 to the power of 21 is **77269364249128133542834377077802491249125349**."
        if status == "completed"
        else "123 to the power of 21 is **7726",
        reasoning="I will compute it exactly with Python.",
        code_runs=(CodeRun(0, code, output),),
        steps=(
            Step("reasoning", "I will compute it exactly with Python."),
            Step("code", code, code_run=0),
            Step("answer", "123 to the power of 21 is ..."),
        ),
        usage=Usage(
            input_tokens=120, output_tokens=80, reasoning_tokens=30, total_tokens=200, code_interpreter_calls=1
        ),
        request_id="req-seed",
        model="qwen3-max",
        protocol=protocol,
        finish_reason=finish_reason,
        status=status,  # type: ignore[arg-type]
        timings=Timings(time_to_first_event=0.5, total_time=4.0),
        code_returned=protocol != "openai",
    )


def result_texts() -> Iterator[str]:
    for protocol in ("dashscope", "openai", "responses"):
        result = seed_result(protocol=protocol)
        yield f"=== result_markdown, {protocol}"
        yield result_markdown(result)
        yield f"=== result_markdown, {protocol}, with reasoning"
        yield result_markdown(result, include_reasoning=True)
        yield f"=== LangChain tool output, {protocol}"
        text, _, _ = tool_output(result, include_reasoning=False)
        yield text
    yield "=== result_markdown, capped at 160"
    yield result_markdown(seed_result(), max_chars=160)
    yield "=== incomplete (length)"
    yield incomplete_for_agent(seed_result(status="incomplete", finish_reason="length"), max_chars=600)
    yield ""


# --- the faces' own texts -----------------------------------------------------------------------


def _help(parser: argparse.ArgumentParser) -> Iterator[str]:
    yield parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"=== {parser.prog} {name} --help"
                yield sub.format_help()


def help_texts() -> Iterator[str]:
    yield "=== qwen-ci --help"
    yield from _help(cli_parser())
    yield "=== qwen-ci-mcp --help"
    yield from _help(mcp_parser())


def mcp_texts() -> Iterator[str]:
    server = create_server(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0)

    async def listed() -> list[dict[str, Any]]:
        from mcp import Client

        async with Client(server) as client:
            with anyio.fail_after(20):
                return [
                    t.model_dump(mode="json", by_alias=True, exclude_none=True)
                    for t in (await client.list_tools()).tools
                ]

    for tool in anyio.run(listed):
        description = tool.pop("description", "")
        for icon in tool.get("icons", []):  # the images themselves: their digest
            icon["src"] = "sha256:" + hashlib.sha256(icon["src"].encode()).hexdigest()[:16]
        yield f"=== MCP tool {tool['name']}"
        yield description
        yield json.dumps(tool, indent=1, sort_keys=True)
    yield "=== MCP instructions"
    yield T.INSTRUCTIONS
    constants = (
        "SHUTTING_DOWN_TEXT",
        "SHUTDOWN_ERROR_MESSAGE",
        "NOT_STARTED_TEXT",
        "NO_KEY_TEXT",
        "STOPPED_WAITING_TEXT",
    )
    for name in constants:
        yield f"=== MCP {name}"
        yield getattr(T, name)
    calls: list[tuple[str, Callable[[], str]]] = [
        ("too_many_runs_text", lambda: T.too_many_runs_text(8)),
        ("unexpected_failure_text", lambda: T.unexpected_failure_text("KeyError")),
        ("cancelled_call_text", lambda: T.cancelled_call_text("the client went away")),
        (
            "pending_text",
            lambda: T.pending_text(
                run_id="r-1", stage="running code", elapsed=12.4, max_wait=50, ttl=3600, store_down=False
            ),
        ),
        (
            "pending_text, store down",
            lambda: T.pending_text(run_id="r-1", stage="thinking", elapsed=3, max_wait=2.5, ttl=60, store_down=True),
        ),
        ("unknown_run_text", lambda: T.unknown_run_text("r-2", 3600)),
        ("store_unavailable_text", lambda: T.store_unavailable_text("r-3")),
        ("lost_run_text", lambda: T.lost_run_text(95.6)),
        (
            "invalid_arguments_text",
            lambda: T.invalid_arguments_text(
                T.TOOL_NAME,
                [
                    {"type": "missing", "loc": ("question",), "msg": "Field required"},
                    {"type": "bool_parsing", "loc": ("include_reasoning",), "msg": "Input should be a valid boolean"},
                ],
            ),
        ),
    ]
    for label, call in calls:
        yield f"=== MCP {label}"
        yield call()
    yield ""


def langchain_texts() -> Iterator[str]:
    tool = QwenCodeInterpreterTool(api_key=KEY)
    yield f"=== LangChain tool {tool.name}"
    yield tool.description
    yield json.dumps(tool.tool_call_schema.model_json_schema(), indent=1, sort_keys=True)
    yield ""


# --- tool calls -----------------------------------------------------------------------------------


def _shown_call(result: Any) -> str:
    """A tools/call result as a model gets it: isError, each text block, then structuredContent."""
    texts = [block.text for block in result.content if block.type == "text"]
    structured = json.dumps(result.structured_content, indent=1, sort_keys=True, ensure_ascii=False)
    return _varying(
        f"isError: {result.is_error}\n" + "\n--- text\n".join(["", *texts]) + f"\n--- structured\n{structured}"
    )


def mcp_calls() -> Iterator[str]:
    """tools/call against the emulator over the in-memory client: what a model reads for each kind of call."""
    from mcp import Client

    async def session(emu: Emulator, slow: Emulator) -> list[str]:
        settings: dict[str, Any] = {
            "api_key": KEY,
            "base_url": emu.base_url,
            "max_retries": 0,
            "heartbeat_interval": 600,
        }
        plain = create_server(**settings)
        calls: list[tuple[str, Any, str, dict[str, Any]]] = [
            ("the seed", plain, T.TOOL_NAME, {"question": SEED_QUESTION}),
            ("the seed, with reasoning", plain, T.TOOL_NAME, {"question": SEED_QUESTION, "include_reasoning": True}),
            ("a refused key", plain, T.TOOL_NAME, {"question": f"{SEED_QUESTION} #fault=401"}),
            ("rate-limited", plain, T.TOOL_NAME, {"question": f"{SEED_QUESTION} #fault=429"}),
            ("cut by the length limit", plain, T.TOOL_NAME, {"question": f"{SEED_QUESTION} #fault=length"}),
            ("interrupted mid-stream", plain, T.TOOL_NAME, {"question": f"{SEED_QUESTION} #fault=drop"}),
            ("no question", plain, T.TOOL_NAME, {}),
            ("arguments of the wrong types", plain, T.TOOL_NAME, {"question": 42, "include_reasoning": "yes"}),
            ("an unknown run", plain, T.RESULT_TOOL_NAME, {"run_id": "r-none"}),
            (
                "two runs over responses",
                create_server(**settings, protocol="responses"),
                T.TOOL_NAME,
                {"question": TWO_RUN_QUESTION},
            ),
        ]
        # (A capped result is not here: where the cut falls moves with the digits of its timings.)
        out: list[str] = []
        with anyio.fail_after(60):
            for label, server, tool, arguments in calls:
                reports: list[str] = []

                async def progress(
                    value: float, total: float | None, message: str | None, seen: list[str] = reports
                ) -> None:
                    seen.append(message or "")

                async with Client(server) as client:
                    result = await client.call_tool(tool, arguments, progress_callback=progress)
                out += [f"=== {tool} {json.dumps(arguments)}  ({label})", f"progress: {reports}", _shown_call(result)]
            # A run longer than max_wait: its handle, then its result through the result tool.
            held = create_server(**{**settings, "base_url": slow.base_url}, max_wait=0.3)
            async with Client(held) as client:
                pending = await client.call_tool(T.TOOL_NAME, {"question": SEED_QUESTION})
                run_id = (pending.structured_content or {})["run_id"]
                # What the run is doing after 0.3 s depends on the machine's speed: the stage is shown as <stage>.
                shown = re.sub(r'(now: |"stage": ")[^)"]+', r"\1<stage>", _shown_call(pending).replace(run_id, "<run>"))
                out += [f"=== {T.TOOL_NAME} (a run longer than --max-wait)", shown]
                while (done := await client.call_tool(T.RESULT_TOOL_NAME, {"run_id": run_id})).structured_content.get(
                    "status"
                ) == "running":  # type: ignore[union-attr]
                    pass
                out += [f"=== {T.RESULT_TOOL_NAME} (its result)", _shown_call(done).replace(run_id, "<run>")]
        return out

    logged: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: logged.append(f"{record.levelname}: {record.getMessage()}")  # type: ignore[method-assign]
    logger = logging.getLogger("mcp_server")
    # setLevel, not `logger.level =`: only setLevel clears the loggers' isEnabledFor cache, and a test run
    # earlier in the same process may have cached "INFO is off" for this logger (CI at f30ca60 lost every INFO line).
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        with Emulator() as emu, Emulator(code_pause=0.6) as slow:
            yield from anyio.run(session, emu, slow)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    yield "=== the server's log of these calls (INFO and above)"
    yield _varying("\n".join(logged))
    yield ""


def langchain_calls() -> Iterator[str]:
    """What an agent's model reads back from the LangChain tool (a ToolMessage) for each kind of call."""
    with Emulator() as emu:
        tool = QwenCodeInterpreterTool(api_key=KEY, base_url=emu.base_url, max_retries=0)
        for label, question in (
            ("the seed", SEED_QUESTION),
            ("a refused key", f"{SEED_QUESTION} #fault=401"),
            ("cut by the length limit", f"{SEED_QUESTION} #fault=length"),
            ("interrupted mid-stream", f"{SEED_QUESTION} #fault=drop"),
        ):
            call = {"name": tool.name, "args": {"question": question}, "id": "call_1", "type": "tool_call"}
            message = tool.invoke(call)
            artifact = json.dumps(message.artifact, indent=1, sort_keys=True, ensure_ascii=False)
            yield f"=== {question}  ({label}): status {message.status}"
            yield _varying(f"{message.content}\n--- artifact\n{artifact}")
    yield ""


def http_front(work: Path) -> Iterator[str]:
    """What the HTTP transport answers before the MCP app: health, readiness, the bearer check; and
    what a bad token file is told."""
    from mcp_server.http.app import build_http_app
    from mcp_server.http.auth import Credentials, TokenFileError, parse_token_file

    token = "texts-catalogue-token-0123456789"
    server = create_server(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0)
    app = build_http_app(server, host="127.0.0.1", credentials=Credentials.single(token))
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    requests: list[tuple[str, str, str, list[tuple[str, str]]]] = [
        ("health", "GET", "/healthz", []),
        ("readiness", "GET", "/readyz", []),
        ("no token", "POST", "/mcp", []),
        ("a wrong token", "POST", "/mcp", [("Authorization", "Bearer not-the-token")]),
        ("another scheme", "POST", "/mcp", [("Authorization", f"Basic {token}")]),
        ("two Authorization headers", "POST", "/mcp", [("Authorization", f"Bearer {token}")] * 2),
        ("metrics without a token", "GET", "/metrics", []),
        ("metrics with a wrong token", "GET", "/metrics", [("Authorization", "Bearer nope")]),
    ]

    async def answers() -> list[str]:
        out = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            for label, method, path, headers in requests:
                with anyio.fail_after(10):
                    response = await http.request(
                        method, path, headers=headers, json=listing if method == "POST" else None
                    )
                shown = {k: v for k, v in response.headers.items() if k in ("content-type", "www-authenticate")}
                out += [f"=== {method} {path}  ({label}): {response.status_code} {shown}", response.text]
        return out

    yield from anyio.run(answers)
    for label, content in (
        ("two clients and a comment", "alice:abcdefghijklmnopqrstuvwxyz\n# ops\n bob : zyxwvutsrqponmlkjihgfedcba \n"),
        ("no colon", "alice\n"),
        ("a bad name", "-x:abcdefghijklmnopqrstuvwxyz\n"),
        ("a token with a space", "alice:abc defghijklmnopqrstuv\n"),
        ("a short token", "alice:short\n"),
        ("a name twice", "alice:abcdefghijklmnopqrstuvwxyz\nalice:zyxwvutsrqponmlkjihgfedcba\n"),
        ("a token twice", "alice:abcdefghijklmnopqrstuvwxyz\nbob:abcdefghijklmnopqrstuvwxyz\n"),
        ("only comments", "# nobody yet\n\n"),
        ("not UTF-8", b"alice:\xff\xfe".decode("latin-1")),
    ):
        path = work / "tokens"
        path.write_bytes(content.encode("latin-1") if label == "not UTF-8" else content.encode())
        try:
            said = f"accepted: {sorted(parse_token_file(path).values())}"
        except TokenFileError as err:
            said = str(err).replace(str(work), "<dir>")
        yield f"=== token file ({label}): {said}"
    yield ""


def server_logs() -> Iterator[str]:
    """What ``qwen-ci-mcp`` logs over its life (its own lines; the SDK's and the times left out): over HTTP from
    start to SIGTERM, and over stdio until its input ends."""
    from tests.mcp_server.processes import http_server_process, server_env

    ours = re.compile(r"^\S+ \S+ (\w+) mcp_server: (.*)$")

    def own_lines(text: str) -> str:
        shown = "\n".join(f"{m[1]} {m[2]}" for line in text.splitlines() if (m := ours.match(line)))
        return shown.replace(f"qwen-ci-mcp {__version__}:", "qwen-ci-mcp <version>:")

    # Signals are watched before the "listening on" line the helper waits for.
    with http_server_process("--emulator", QWEN_CI_MCP_AUTH_TOKEN="texts-catalogue-token-0123456789") as server:
        server.terminate()
        code = server.wait()
        said = server.output()
    yield f"=== qwen-ci-mcp --emulator --transport streamable-http (a token), then SIGTERM: exit {code}"
    yield _varying(own_lines(said))
    command = [sys.executable, "-m", "mcp_server", "--emulator"]
    # (env: what an MCP client passes, and a mutation run's mutant)
    done = subprocess.run(
        command, env=server_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
    )
    yield f"=== qwen-ci-mcp --emulator, its input at an end: exit {done.returncode}"
    yield _varying(own_lines(done.stderr))
    yield ""


# --- the command line at work -------------------------------------------------------------------

#: What changes from run to run in a session's output: the emulator's port, ids, durations and stamps.
_VARYING = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\brun_[A-Za-z0-9_-]{16,}"), "<run>"),
    (re.compile(r"\b\d+(?:\.\d+)?(?=\s?(?:s|ms)\b)"), "<t>"),
    (re.compile(r'("(?:total_time|time_to_first_event|elapsed_seconds)": )[\d.]+'), r"\1<t>"),
)


def _varying(text: str) -> str:
    for pattern, placeholder in _VARYING:
        text = pattern.sub(placeholder, text)
    return text


def cli_sessions(work: Path) -> Iterator[str]:
    """What a person sees from ``qwen-ci`` against the emulator: each command's exit code, stdout, stderr."""
    tasks = work / "tasks.jsonl"
    tasks.write_text(
        "".join(
            json.dumps(task) + "\n"
            for task in (
                {"id": "seed", "question": SEED_QUESTION},
                {"id": "refused", "question": f"{SEED_QUESTION} #fault=400"},
                {"id": "cut", "question": f"{SEED_QUESTION} #fault=length"},
            )
        ),
        encoding="utf-8",
    )
    recording = work / "seed.sse"
    (work / "empty.sse").write_bytes(b"\n")
    os.environ[ENV_API_KEY] = KEY  # the usual set-up; `--emulator` is tried once (it paces its answers for a person)
    with Emulator() as emu:
        at = ["--base-url", emu.base_url]
        sessions: list[tuple[str, list[str]]] = [
            ("ask --emulator", ["ask", "--emulator", SEED_QUESTION]),
            ("ask, two runs over responses", ["ask", *at, "--protocol", "responses", TWO_RUN_QUESTION]),
            (
                "ask --show-reasoning, recorded",
                ["ask", *at, "--show-reasoning", "--record", str(recording), SEED_QUESTION],
            ),
            ("ask --json", ["ask", *at, "--json", SEED_QUESTION]),
            ("ask, a failure", ["ask", *at, f"{SEED_QUESTION} #fault=401"]),
            (
                "ask --json, a failure retried",
                ["ask", *at, "--json", "--max-retries", "1", f"{SEED_QUESTION} #fault=429"],
            ),
            ("ask, cut by the length limit", ["ask", *at, f"{SEED_QUESTION} #fault=length"]),
            ("ask, interrupted mid-stream", ["ask", *at, f"{SEED_QUESTION} #fault=drop"]),
            ("replay", ["replay", str(recording)]),
            ("replay --json", ["replay", "--json", str(recording)]),
            ("replay of a file without events", ["replay", str(tasks)]),
            ("replay of an empty file", ["replay", str(work / "empty.sse")]),
            ("ask --emulator with --base-url", ["ask", "--emulator", *at, SEED_QUESTION]),
            ("ask --emulator with --region", ["ask", "--emulator", "--region", "singapore", SEED_QUESTION]),
            (
                "ask --emulator with --base-url and --region",
                ["ask", "--emulator", *at, "--region", "singapore", SEED_QUESTION],
            ),
            ("batch, one at a time", ["batch", *at, "--concurrency", "1", "-o", str(work / "out.jsonl"), str(tasks)]),
            ("batch, again: nothing left", ["batch", *at, "-o", str(work / "out.jsonl"), str(tasks)]),
            ("batch, a missing input file", ["batch", *at, "-o", str(work / "bad.jsonl"), str(work / "missing.jsonl")]),
            ("batch, OUTPUT a directory", ["batch", *at, "-o", str(work), str(tasks)]),
            ("batch, OUTPUT a character device", ["batch", *at, "-o", os.devnull, str(tasks)]),
            ("batch, OUTPUT the INPUT", ["batch", *at, "-o", str(tasks), str(tasks)]),
            ("models", ["models"]),
            ("doctor", ["doctor", *at]),
            ("doctor, a model the service does not list", ["doctor", *at, "--model", "qwen-nonesuch"]),
            ("doctor --json, over responses", ["doctor", *at, "--json", "--protocol", "responses"]),
            ("usage error", ["ask", "--idle-timeout", "soon", SEED_QUESTION]),
        ]
        yield from _run_sessions(work, sessions)
    with Emulator(api_key="sk-someone-elses-key") as strict:
        yield from _run_sessions(work, [("doctor, a refused key", ["doctor", "--base-url", strict.base_url])])
    del os.environ[ENV_API_KEY]
    yield from _run_sessions(work, [("ask, no key", ["ask", SEED_QUESTION])])
    yield ""


def _run_sessions(work: Path, sessions: list[tuple[str, list[str]]]) -> Iterator[str]:
    for label, argv in sessions:
        out, err = io.StringIO(), io.StringIO()
        try:  # argparse writes to sys.stderr itself
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli_main(argv, stdout=out, stderr=err)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 2
        said = err.getvalue()
        if said.startswith("usage:"):  # laid out as the help is, by Python version: the verdict only
            said = said.splitlines()[-1]
        yield _varying(f"=== qwen-ci {' '.join(argv)}  ({label}): exit {code}".replace(str(work), "<dir>"))
        yield _varying(out.getvalue().replace(str(work), "<dir>"))
        yield "--- stderr"
        yield _varying(said.replace(str(work), "<dir>"))


# --- the catalogue ------------------------------------------------------------------------------


@contextlib.contextmanager
def fixed_environment() -> Iterator[None]:
    """No setting from the environment reaches a text (help shows defaults), and help has a fixed width."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("DASHSCOPE_", "QWEN_CI_", "OTEL_")) or name in ("COLUMNS", "NO_COLOR", "FORCE_COLOR"):
            del os.environ[name]
    os.environ["COLUMNS"] = COLUMNS
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def render() -> str:
    with fixed_environment(), tempfile.TemporaryDirectory() as work:
        parts = [
            "# The texts catalogue: written by `python -m tests.texts --write`; do not edit (tests/texts.py says why).",
            f"{HELP_VERSION}{sys.version_info[0]}.{sys.version_info[1]}",
            "",
            "== MCP server",
            *mcp_texts(),
            "== LangChain",
            *langchain_texts(),
            HELP_SECTION,
            *help_texts(),
            "== Failures, as each face words them",
            *failure_texts(),
            "== Bad input, refused before anything is sent",
            *refusals(Path(work)),
            "== The emulator's and the key holder's refusals",
            *emulator_refusals(),
            "== Results",
            *result_texts(),
            "== Tool calls",
            *mcp_calls(),
            "== LangChain tool calls",
            *langchain_calls(),
            "== HTTP front",
            *http_front(Path(work)),
            "== Server logs",
            *server_logs(),
            "== The command line at work",
            *cli_sessions(Path(work)),
        ]
    text = "\n".join(part.rstrip("\n") for part in parts) + "\n"
    if KEY in text:
        raise AssertionError("the key shows in the texts catalogue")
    return text


def catalogue_main(module: str, path: Path, render: Callable[[], str], argv: list[str] | None = None) -> int:
    """``python -m <module> [--write]``: print the catalogue, or write it to *path*."""
    ap = argparse.ArgumentParser(prog=f"python -m {module}", description=f"Print the catalogue, or write {path.name}.")
    ap.add_argument("--write", action="store_true", help=f"write {path}")
    args = ap.parse_args(argv)
    text = render()
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({len(text.splitlines())} lines, {len(text.encode())} bytes)")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return catalogue_main("tests.texts", PATH, render, argv)


if __name__ == "__main__":
    sys.exit(main())
