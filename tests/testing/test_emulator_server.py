"""The emulator as a server: lifecycle, connections, request checks, conversations, public surface."""

from __future__ import annotations

import ast
import itertools
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import qwen_ci_tool.testing as testing
from qwen_ci_tool.testing import (
    SEED_QUESTION,
    TWO_RUN_QUESTION,
    CodeSegment,
    Emulator,
    Fault,
    emulator_stream_path,
    synthetic_conversation,
)
from qwen_ci_tool.testing._conversations import generic_conversation
from qwen_ci_tool.testing._wire import NativeRenderer, RenderContext

from ..source import parse
from ._requests import CHAT, HEADERS, MULTIMODAL, RESPONSES, TEXT_GENERATION, chat_body, native_body, responses_body

PACKAGE = Path(testing.__file__).parent


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def post(emu: Emulator, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(base_url=emu.base_url, timeout=10) as client:
        return client.post(path, json=body, headers=HEADERS if headers is None else headers)


# --- lifecycle and connections -------------------------------------------------------------------


def test_emulator_serves_on_a_free_loopback_port_and_stops_idempotently() -> None:
    emu = Emulator().start()
    try:
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.port > 0
    finally:
        emu.stop()
    emu.stop()
    with pytest.raises(RuntimeError, match="not running"):
        emu.base_url  # noqa: B018


def test_starting_twice_is_refused(emu: Emulator) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        emu.start()


async def test_emulator_works_as_an_async_context_manager_inside_a_running_loop() -> None:
    async with Emulator() as emu, httpx.AsyncClient(base_url=emu.base_url, headers=HEADERS, timeout=10) as client:
        response = await client.post(CHAT, json=chat_body())

    assert response.content.endswith(b"data: [DONE]\n\n")


def test_one_connection_serves_several_requests_and_closes_with_the_client(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client:
        for _ in range(3):
            assert client.post(TEXT_GENERATION, json=native_body()).status_code == 200
        assert emu.active_connections == 1

    assert emu.wait_for_connections(0, timeout=5)


def test_a_client_hanging_up_during_a_stall_frees_its_connection(emu: Emulator) -> None:
    emu.add_fault(Fault.stall(after_events=1, seconds=60.0))
    with (
        httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client,
        client.stream("POST", TEXT_GENERATION, json=native_body()) as response,
    ):
        next(response.iter_raw())

    assert emu.wait_for_connections(0, timeout=5)


def test_stop_closes_idle_keep_alive_connections(emu: Emulator) -> None:
    client = httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10)
    try:
        client.post(TEXT_GENERATION, json=native_body())
        assert emu.active_connections == 1
        emu.stop()
        assert emu.active_connections == 0
    finally:
        client.close()


def test_requests_are_recorded_with_lowercased_headers_and_parsed_json(emu: Emulator) -> None:
    post(emu, CHAT, chat_body(), {"Authorization": "Bearer sk-test", "X-Custom": "1"})

    (request,) = emu.requests
    assert (request.method, request.path) == ("POST", CHAT)
    assert request.headers["x-custom"] == "1"
    assert request.json == chat_body()
    assert json.loads(request.body) == chat_body()


def test_reset_forgets_requests_faults_and_replays(emu: Emulator) -> None:
    emu.add_fault(Fault.status(500))
    emu.replay(b"data: x\n\n")
    post(emu, "/nowhere", {})
    emu.reset()

    assert emu.requests == []
    assert post(emu, TEXT_GENERATION, native_body()).content == emulator_stream_path("native_seed").read_bytes()


def test_block_size_writes_the_same_stream_in_fixed_blocks() -> None:
    with (
        Emulator(block_size=1000) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client,
        client.stream("POST", TEXT_GENERATION, json=native_body()) as response,
    ):
        pieces = list(response.iter_raw())

    assert b"".join(pieces) == emulator_stream_path("native_seed").read_bytes()
    assert {len(p) for p in pieces[:-1]} == {1000}


def test_pace_and_code_pause_change_timing_only() -> None:
    with Emulator(pace=0.0005, code_pause=0.01) as emu:
        content = post(emu, TEXT_GENERATION, native_body(TWO_RUN_QUESTION)).content

    assert content == emulator_stream_path("native_two_runs").read_bytes()


def test_serve_forever_reports_its_url_and_returns_on_ctrl_c() -> None:
    # Each step waits for an event from the child (its URL line, the served response, the end of
    # its output), not for a length of time: a busy machine only makes it slower. The one bound
    # is a kill if the child hangs, which ends its output and fails the test with what it said.
    script = (
        "import sys\n"
        "from qwen_ci_tool.testing import Emulator\n"
        "Emulator.serve_forever('127.0.0.1', 0, ready=lambda url: (print(url), sys.stdout.flush()))\n"
        "print('returned')\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PACKAGE.parent.parent,
    )
    hung = threading.Timer(50, process.kill)
    hung.start()
    try:
        assert process.stdout is not None and process.stderr is not None
        url = process.stdout.readline().strip()  # ready: the port is bound
        assert url.startswith("http://127.0.0.1:"), (url, process.stderr.read())
        response = post_url(url)  # served: the loop is running and answering
        process.send_signal(signal.SIGINT)
        out = process.stdout.read()  # until the child closes its output, i.e. exits
        err = process.stderr.read()
        returncode = process.wait()
    finally:
        hung.cancel()
        process.kill()
        process.wait()
    assert response.status_code == 200
    assert out == "returned\n", (out, err)
    assert returncode == 0, err


def post_url(url: str) -> httpx.Response:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as client:
        return client.post(TEXT_GENERATION, json=native_body())


# --- what the endpoints accept -----------------------------------------------------------------


def test_unknown_paths_get_a_404_in_the_dashscope_shape(emu: Emulator) -> None:
    response = post(emu, "/api/v1/nowhere", {})

    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "request_id"}
    assert response.headers["x-request-id"] == response.json()["request_id"]


def test_endpoints_answer_only_post(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url, timeout=10) as client:
        response = client.get(CHAT)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "MethodNotAllowed"


@pytest.mark.parametrize(
    ("path", "body", "shape_key"),
    [
        (TEXT_GENERATION, native_body(), "code"),
        (CHAT, chat_body(), "error"),
        (RESPONSES, responses_body(), "code"),
    ],
)
def test_a_missing_key_is_401_in_each_endpoint_shape(emu: Emulator, path: str, body: Any, shape_key: str) -> None:
    response = post(emu, path, body, {"x-dashscope-sse": "enable"})

    assert response.status_code == 401
    assert shape_key in response.json()


def test_a_configured_key_refuses_others_and_accepts_itself() -> None:
    with Emulator(api_key="sk-right") as emu:
        wrong = post(
            emu, TEXT_GENERATION, native_body(), {"authorization": "Bearer sk-wrong", "x-dashscope-sse": "enable"}
        )
        right = post(
            emu, TEXT_GENERATION, native_body(), {"authorization": "Bearer sk-right", "x-dashscope-sse": "enable"}
        )

    assert (wrong.status_code, wrong.json()["code"]) == (401, "InvalidApiKey")
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "fragment"),
    [
        (native_body(), {"authorization": "Bearer k"}, "streaming"),
        (native_body(enable_thinking=False), HEADERS, "thinking"),
        (native_body(enable_code_interpreter=False), HEADERS, "enable_code_interpreter"),
        (native_body(tools=[{"type": "function", "function": {"name": "f"}}]), HEADERS, "tools"),
        (native_body(model="qwen3.5-plus"), HEADERS, "url error"),
        (native_body(model="qwen3.7-max"), HEADERS, "url error"),
        (native_body(model="qwen3-flash"), HEADERS, "url error"),
        (native_body(incremental_output=False), HEADERS, "incremental"),
        ({"model": "qwen3-max", "input": {}}, HEADERS, "messages"),
        ({"input": {"messages": []}}, HEADERS, "Model"),
    ],
)
def test_text_generation_refuses_what_the_service_refuses(
    emu: Emulator, body: Any, headers: dict[str, str], fragment: str
) -> None:
    response = post(emu, TEXT_GENERATION, body, headers)

    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert fragment in response.json()["message"]


def test_an_unknown_model_is_404_model_not_exist_everywhere(emu: Emulator) -> None:
    native = post(emu, TEXT_GENERATION, native_body(model="no-such-model"))
    chat = post(emu, CHAT, chat_body(model="no-such-model"))
    responses = post(emu, RESPONSES, responses_body(model="no-such-model"))

    assert (native.status_code, native.json()["code"]) == (404, "Model.NotExist")
    assert (chat.status_code, chat.json()["error"]["code"]) == (404, "model_not_found")
    assert (responses.status_code, responses.json()["code"]) == (404, "Model.NotExist")


def test_unknown_models_are_configurable() -> None:
    with Emulator(unknown_models={"qwen-retired"}) as emu:
        assert post(emu, TEXT_GENERATION, native_body(model="qwen-retired")).status_code == 404
        assert post(emu, TEXT_GENERATION, native_body(model="no-such-model")).status_code == 200


def test_multimodal_path_serves_newer_models(emu: Emulator) -> None:
    assert post(emu, MULTIMODAL, native_body(model="qwen3.7-plus")).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (chat_body(stream=False), "streaming"),
        (chat_body(enable_thinking=False), "thinking"),
        (chat_body(tools=[{"type": "function"}]), "tools"),
        (chat_body(messages=[]), "messages"),
    ],
)
def test_chat_completions_refuses_what_the_service_refuses(emu: Emulator, body: Any, fragment: str) -> None:
    response = post(emu, CHAT, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter_error"
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (responses_body(tools=[{"type": "web_search"}]), "code_interpreter"),
        (responses_body(enable_thinking=False), "thinking"),
        (responses_body(input=42), "input"),
    ],
)
def test_responses_refuses_what_the_service_refuses(emu: Emulator, body: Any, fragment: str) -> None:
    response = post(emu, RESPONSES, body)

    assert response.status_code == 400
    assert list(response.json()) == ["request_id", "code", "message"]
    assert fragment in response.json()["message"]


def test_a_body_that_is_not_json_is_refused(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client:
        response = client.post(TEXT_GENERATION, content=b"{not json")

    assert response.status_code == 400
    assert emu.requests[-1].json is None


def test_responses_accepts_a_message_list_with_input_text_parts(emu: Emulator) -> None:
    body = responses_body(input=[{"role": "user", "content": [{"type": "input_text", "text": SEED_QUESTION}]}])

    assert post(emu, RESPONSES, body).content == emulator_stream_path("responses_seed").read_bytes()


# --- conversations ---------------------------------------------------------------------------


def test_an_unscripted_question_gets_an_honest_generic_reply(emu: Emulator) -> None:
    response = post(emu, CHAT, chat_body(messages=[{"role": "user", "content": "What is 2**100?"}]))
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in response.text.split("\n\n")
        if line.startswith("data: {") and json.loads(line[6:])["choices"]
    )

    assert text.startswith("[emulator]")
    assert "no recorded answer" in text


def test_the_generic_conversation_runs_fixed_code_and_never_computes() -> None:
    conversation = generic_conversation("What is 2**100?")

    assert [run.code for run in conversation.code_runs] == ['print("emulator")']
    assert "no scripted conversation" in conversation.reasoning
    assert str(2**100) not in conversation.answer


def test_the_question_is_matched_from_list_of_parts_content_and_ignores_spacing(emu: Emulator) -> None:
    body = native_body()
    body["input"]["messages"] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"text": "  What is 123 to the   power of 21?  "}]},
    ]

    assert post(emu, TEXT_GENERATION, body).content == emulator_stream_path("native_seed").read_bytes()


def test_a_forced_conversation_serves_every_request(emu: Emulator) -> None:
    emu.set_conversation(synthetic_conversation(40, code_runs=1, code_chars=30))
    forced = post(emu, TEXT_GENERATION, native_body()).content
    emu.set_conversation(None)
    chosen = post(emu, TEXT_GENERATION, native_body()).content

    assert forced.count(b"\n\n") == 40
    assert chosen == emulator_stream_path("native_seed").read_bytes()


def test_a_conversation_can_be_given_at_construction() -> None:
    with Emulator(conversation=synthetic_conversation(10, code_runs=1, code_chars=5)) as emu:
        assert post(emu, TEXT_GENERATION, native_body()).content.count(b"event:result") == 10


def test_synthetic_conversation_grows_its_code_a_few_characters_per_frame() -> None:
    conversation = synthetic_conversation(2000, code_runs=3, code_chars=600)
    ctx = RenderContext(request_id="r", model="m", created=0, chat_id="c")
    frames = [json.loads(e.split(b"data:", 1)[1]) for e, _ in NativeRenderer(conversation, ctx).events()]
    code_lengths = [[len(t["code_interpreter"]["code"]) for t in f["output"].get("tool_info", [])] for f in frames]
    growing = [lengths for lengths in code_lengths if lengths and lengths[-1] < 600]

    assert len(frames) == 2000
    assert len(growing) > 500
    assert all(0 < b[-1] - a[-1] <= 5 for a, b in itertools.pairwise(growing) if len(a) == len(b))
    assert code_lengths[-1] == [600, 600, 600]
    assert frames[-1]["usage"]["plugins"] == {"code_interpreter": {"count": 3}}


def test_synthetic_conversation_of_100k_events_renders_them_all() -> None:
    conversation = synthetic_conversation(100_000, code_runs=3, code_chars=200)
    ctx = RenderContext(request_id="r", model="m", created=0, chat_id="c")

    assert sum(1 for _ in NativeRenderer(conversation, ctx).events()) == 100_000


def test_synthetic_conversation_refuses_nonsense_sizes() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        synthetic_conversation(0)


def test_a_code_run_must_end_showing_its_whole_code() -> None:
    with pytest.raises(ValueError, match="whole code"):
        CodeSegment(code="1+1", logs="2", input_tokens_after=1, growth=(0, 2))


# --- the public surface ------------------------------------------------------------------------


def test_public_names_are_sorted_complete_and_report_the_package() -> None:
    assert testing.__all__ == sorted(testing.__all__)
    public = {n for n in dir(testing) if not n.startswith("_")}
    assert public == set(testing.__all__)
    for name in ("Emulator", "Fault", "RecordedRequest", "synthetic_conversation", "emulator_stream_path"):
        assert getattr(testing, name).__module__ == "qwen_ci_tool.testing"


def test_the_emulator_imports_only_the_standard_library() -> None:
    for source in PACKAGE.glob("*.py"):
        tree = parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names or root == "__future__", f"{source.name} imports {root}"
