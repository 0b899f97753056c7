"""Every fault the emulator injects is observable at the HTTP level, in each endpoint's own shape."""

from __future__ import annotations

import concurrent.futures
import json
import socket
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from qwen_ci_tool.testing import FAULT_NAMES, SEED_QUESTION, Emulator, Fault, emulator_stream_path
from qwen_ci_tool.testing._wire import HELP_LINK, RESPONSES_RATE_LIMIT_MESSAGE

from ._requests import CHAT, HEADERS, RESPONSES, TEXT_GENERATION, chat_body, native_body, responses_body

SEED_NATIVE = emulator_stream_path("native_seed").read_bytes()


BODIES = {TEXT_GENERATION: native_body, CHAT: partial(chat_body, include_usage=True), RESPONSES: responses_body}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def post(emu: Emulator, path: str = TEXT_GENERATION, body: dict[str, Any] | None = None) -> httpx.Response:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client:
        return client.post(path, json=body if body is not None else BODIES[path]())


def post_with(emu: Emulator, fault: Fault, path: str = TEXT_GENERATION) -> httpx.Response:
    """The emulator's answer to one request, with *fault* armed for it."""
    emu.add_fault(fault)
    return post(emu, path)


def raw_post(
    emu: Emulator, path: str = TEXT_GENERATION, body: dict[str, Any] | None = None
) -> tuple[bytes, list[bytes], bool]:
    """The response head, the HTTP chunks exactly as sent, and whether the final chunk arrived."""
    payload = json.dumps(body if body is not None else BODIES[path]()).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nhost: emulator\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer sk-test\r\nx-dashscope-sse: enable\r\nconnection: close\r\n"
        f"content-length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(head + payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    response_head, _, rest = data.partition(b"\r\n\r\n")
    chunks: list[bytes] = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return response_head, chunks, True
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return response_head, chunks, False


def blocks(data: bytes, sep: bytes = b"\n\n") -> list[bytes]:
    return [b + sep for b in data.split(sep) if b]


# --- HTTP errors -----------------------------------------------------------------------------


def test_status_fault_answers_native_requests_with_a_flat_error_retry_after_and_request_id(emu: Emulator) -> None:
    response = post_with(emu, Fault.status(429, retry_after="0", request_id="rid-1"))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "0"
    assert response.headers["x-request-id"] == "rid-1"
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == (
        b'{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded, please try again later.",'
        b'"request_id":"rid-1"}'
    )


def test_status_fault_answers_chat_requests_in_the_openai_error_shape(emu: Emulator) -> None:
    response = post_with(emu, Fault.status(401, request_id="rid-2"), CHAT)

    assert response.status_code == 401
    assert response.content == (
        b'{"error":{"message":"Invalid API-key provided. ' + HELP_LINK.encode() + b'",'
        b'"type":"invalid_request_error","param":null,"code":"invalid_api_key"},"request_id":"rid-2"}'
    )


@pytest.mark.parametrize("how", ["flag", "host header"])
def test_a_workspace_host_puts_the_request_id_inside_the_error_and_sends_no_param(how: str) -> None:
    with Emulator(workspace_host=how == "flag") as emu:
        emu.add_fault(Fault.status(401, request_id="rid-ws"))
        headers = {"host": "ws-123.cn-beijing.maas.aliyuncs.com"} if how == "host header" else {}
        with httpx.Client(base_url=emu.base_url, timeout=10) as client:
            response = client.post(CHAT, json=chat_body(include_usage=True), headers={**HEADERS, **headers})

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "Invalid API-key provided. " + HELP_LINK,
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "id": "rid-ws",
        }
    }


def test_status_fault_answers_responses_requests_with_a_flat_body_led_by_the_request_id(emu: Emulator) -> None:
    response = post_with(emu, Fault.status(400, "InvalidParameter", "bad input", request_id="rid-3"), RESPONSES)

    assert response.status_code == 400
    assert response.content == b'{"request_id":"rid-3","code":"InvalidParameter","message":"bad input"}'


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "InvalidParameter"),
        (401, "InvalidApiKey"),
        (403, "AccessDenied"),
        (404, "Model.NotExist"),
        (429, "Throttling.RateQuota"),
        (500, "InternalError"),
        (502, "ServiceUnavailable"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
    ],
)
def test_status_fault_defaults_to_the_code_the_service_uses_for_that_status(
    emu: Emulator, status: int, code: str
) -> None:
    response = post_with(emu, Fault.status(status))

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["message"]


def test_status_fault_can_answer_with_a_gateway_html_page(emu: Emulator) -> None:
    response = post_with(emu, Fault.status(502, body="html", retry_after="Wed, 21 Oct 2026 07:28:00 GMT"))

    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert response.headers["retry-after"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert b"<title>502 Bad Gateway</title>" in response.content


def test_status_fault_can_answer_with_an_empty_body_or_given_bytes(emu: Emulator) -> None:
    emu.add_fault(Fault.status(503, body="empty"))
    emu.add_fault(Fault.status(500, body=b"upstream connect error"))

    empty, raw = post(emu), post(emu)

    assert (empty.status_code, empty.content, "content-type" in empty.headers) == (503, b"", False)
    assert (raw.status_code, raw.content) == (500, b"upstream connect error")


def test_queued_faults_apply_first_in_first_out_and_times_repeats_one(emu: Emulator) -> None:
    emu.add_fault(Fault.status(429), times=2)
    emu.add_fault(Fault.status(500))

    statuses = [post(emu).status_code for _ in range(4)]

    assert statuses == [429, 429, 500, 200]


def test_a_queued_fault_answers_even_a_request_the_service_would_refuse(emu: Emulator) -> None:
    emu.add_fault(Fault.status(503))

    with httpx.Client(base_url=emu.base_url, timeout=10) as client:
        response = client.post(TEXT_GENERATION, json={})

    assert response.status_code == 503


# --- breaks in the stream ----------------------------------------------------------------------


def test_drop_closes_the_connection_after_n_events_without_the_final_chunk(emu: Emulator) -> None:
    emu.add_fault(Fault.drop(after_events=3))

    head, chunks, complete = raw_post(emu)

    assert head.startswith(b"HTTP/1.1 200 OK")
    assert chunks == blocks(SEED_NATIVE)[:3]
    assert not complete


def test_drop_surfaces_in_httpx_as_an_incomplete_chunked_read(emu: Emulator) -> None:
    emu.add_fault(Fault.drop(after_events=1))

    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        post(emu)


@pytest.mark.parametrize(
    ("status_line", "spelling", "expected_lines"),
    [
        ("both", "event:error", [b"event:error", b":HTTP_STATUS/500", b"status:500"]),
        ("comment", "event:error", [b"event:error", b":HTTP_STATUS/500"]),
        ("field", "event: error", [b"event: error", b"status:500"]),
        ("none", "event:error", [b"event:error"]),
    ],
)
def test_native_error_event_frame_follows_the_requested_spelling_and_status_lines(
    emu: Emulator, status_line: Any, spelling: Any, expected_lines: list[bytes]
) -> None:
    emu.add_fault(Fault.error_event(after_events=2, message="boom", status_line=status_line, spelling=spelling))

    _, chunks, complete = raw_post(emu)

    assert chunks[:2] == blocks(SEED_NATIVE)[:2]
    assert chunks[2:] == [
        b"\n".join([b"id:3", *expected_lines])
        + b'\ndata:{"code":"InternalError","message":"boom","request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}\n\n'
    ]
    assert complete


def test_chat_error_event_is_an_openai_error_chunk_and_no_done(emu: Emulator) -> None:
    emu.add_fault(Fault.error_event(after_events=2, code="Throttling.RateQuota", status=429))

    events = blocks(post(emu, CHAT).content)

    assert len(events) == 3
    error = json.loads(events[-1][len(b"data: ") :])
    assert error["error"]["code"] == "limit_requests"
    assert error["error"]["message"] == "Requests rate limit exceeded, please try again later. " + HELP_LINK
    assert error["id"].startswith("chatcmpl-") and "request_id" not in error, "the captured in-stream shape"


def test_responses_error_event_is_an_error_event_then_response_failed(emu: Emulator) -> None:
    emu.add_fault(Fault.error_event(after_events=4, message="sandbox crashed"))

    events = [json.loads(b.split(b"\ndata:", 1)[1]) for b in blocks(post(emu, RESPONSES).content)]

    assert [e["type"] for e in events[4:]] == ["error", "response.failed"]
    assert events[4] == {
        "type": "error",
        "sequence_number": 4,
        "code": "InternalError",
        "message": "sandbox crashed",
        "param": None,
    }
    assert events[5]["response"]["status"] == "failed"
    assert events[5]["response"]["error"] == {"code": "InternalError", "message": "sandbox crashed"}


def test_a_short_stall_pauses_the_stream_and_then_finishes_it(emu: Emulator) -> None:
    emu.add_fault(Fault.stall(after_events=2, seconds=0.05))

    assert post(emu).content == SEED_NATIVE


def test_stop_ends_a_mid_stream_stall_promptly(emu: Emulator) -> None:
    emu.add_fault(Fault.stall(after_events=2, seconds=60.0))
    with (
        httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client,
        client.stream("POST", TEXT_GENERATION, json=native_body()) as response,
    ):
        received = b""
        raw = response.iter_raw()
        while received.count(b"\n\n") < 2:
            received += next(raw)
        emu.stop()
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            for _ in raw:
                pass
    assert received == b"".join(blocks(SEED_NATIVE)[:2])


def test_stop_ends_a_stall_before_the_response_headers(emu: Emulator) -> None:
    emu.add_fault(Fault.stall(after_events=None, seconds=60.0))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, emu)
        assert emu.wait_for_requests(1, timeout=5)
        emu.stop()
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            pending.result(timeout=10)


def test_drip_sends_the_same_stream_a_few_bytes_per_chunk(emu: Emulator) -> None:
    emu.add_fault(Fault.drip(interval=0, chunk=512))

    _, chunks, complete = raw_post(emu)

    assert b"".join(chunks) == SEED_NATIVE
    assert {len(c) for c in chunks[:-1]} == {512}
    assert complete


def test_chunks_fault_cuts_the_stream_in_the_given_sizes_cycling(emu: Emulator) -> None:
    emu.add_fault(Fault.chunks([1, 2, 3]))

    _, chunks, _ = raw_post(emu, CHAT)

    assert [len(c) for c in chunks[:7]] == [1, 2, 3, 1, 2, 3, 1]
    assert b"".join(chunks) == emulator_stream_path("openai_seed").read_bytes()


def test_malformed_json_breaks_exactly_one_data_line(emu: Emulator) -> None:
    emu.add_fault(Fault.malformed_json(after_events=2))

    events = blocks(post(emu).content)
    broken = []
    for i, event in enumerate(events):
        try:
            json.loads(event.split(b"data:", 1)[1])
        except ValueError:
            broken.append(i)

    assert broken == [2]
    assert len(events) == 54


def test_content_type_fault_sends_a_200_that_is_not_an_event_stream(emu: Emulator) -> None:
    response = post_with(emu, Fault.content_type("text/html", b"<html>login</html>"))

    assert (response.status_code, response.headers["content-type"], response.content) == (
        200,
        "text/html",
        b"<html>login</html>",
    )


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_line_endings_fault_rewrites_every_line_ending(emu: Emulator, ending: str) -> None:
    emu.add_fault(Fault.line_endings(ending))

    assert post(emu).content == SEED_NATIVE.replace(b"\n", ending.encode())


def test_keepalive_fault_puts_comment_blocks_between_frames(emu: Emulator) -> None:
    emu.add_fault(Fault.keepalive(every=2))

    content = post(emu).content

    assert content.count(b": keep-alive\n\n") == 27
    assert content.replace(b": keep-alive\n\n", b"") == SEED_NATIVE


def test_empty_body_fault_is_a_200_event_stream_with_no_bytes(emu: Emulator) -> None:
    response = post_with(emu, Fault.empty_body())

    assert (response.status_code, response.headers["content-type"], response.content) == (
        200,
        "text/event-stream;charset=UTF-8",
        b"",
    )


def test_huge_line_fault_sends_one_valid_data_line_of_the_given_size(emu: Emulator) -> None:
    emu.add_fault(Fault.huge_line(size=2 * 1024 * 1024))

    events = blocks(post(emu).content)
    first = json.loads(events[0].split(b"data:", 1)[1])

    assert len(first["output"]["choices"][0]["message"]["reasoning_content"]) == 2 * 1024 * 1024
    assert first["output"]["choices"][0]["message"]["reasoning_content"].startswith("The 999")
    assert events[1:] == blocks(SEED_NATIVE)[1:]


@pytest.mark.parametrize(
    ("path", "field_line", "unknown_event"),
    [
        (TEXT_GENERATION, b"x-emulator-field:ignored", b"event:x-emulator-notice"),
        (CHAT, b"x-emulator-field: ignored", b"event: x-emulator-notice"),
        (RESPONSES, b"x-emulator-field:ignored", b"event:response.x_emulator_notice"),
    ],
)
def test_unknown_fields_fault_adds_keys_fields_and_an_event_type_from_the_future(
    emu: Emulator, path: str, field_line: bytes, unknown_event: bytes
) -> None:
    emu.add_fault(Fault.unknown_fields())

    events = blocks(post(emu, path).content)
    payloads = [next(x for x in e.split(b"\n") if x.startswith(b"data:"))[5:].strip() for e in events]

    assert events[1].startswith(unknown_event)
    assert all(field_line in e for e, p in zip(events, payloads, strict=True) if p != b"[DONE]")
    assert all(
        json.loads(p)["x_emulator_future"] == {"ignored": True}
        for i, p in enumerate(payloads)
        if i != 1 and p != b"[DONE]"
    )


def test_finish_reason_fault_ends_each_protocol_with_that_reason(emu: Emulator) -> None:
    emu.add_fault(Fault.finish_reason("length"), times=3)
    native, chat, responses = (blocks(post(emu, p).content) for p in (TEXT_GENERATION, CHAT, RESPONSES))

    assert json.loads(native[-1].split(b"data:", 1)[1])["output"]["choices"][0]["finish_reason"] == "length"
    assert json.loads(chat[-3][len(b"data: ") :])["choices"][0]["finish_reason"] == "length"
    final = json.loads(responses[-1].split(b"\ndata:", 1)[1])
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_rate_limit_200_on_responses_is_the_vendors_documented_body_with_http_200(emu: Emulator) -> None:
    emu.add_fault(Fault.rate_limit_200(), times=2)

    for body in (responses_body(), responses_body() | {"stream": False}):
        response = post(emu, RESPONSES, body)
        data = response.json()
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        assert list(data) == sorted(data), "keys in the order of the vendor's example"
        assert data["status"] == "failed" and data["model"] == "" and data["output"] == []
        assert data["error"] == {"code": "server_error", "message": RESPONSES_RATE_LIMIT_MESSAGE}
        assert data["id"].startswith("resp_") and data["tool_choice"] == "auto" and data["parallel_tool_calls"] is False


def test_rate_limit_200_streamed_is_a_200_stream_ending_in_response_failed(emu: Emulator) -> None:
    response = post_with(emu, Fault.rate_limit_200(streamed=True), RESPONSES)
    events = [json.loads(b.split(b"\ndata:", 1)[1]) for b in blocks(response.content)]

    assert response.status_code == 200
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.failed"]
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"


def test_rate_limit_200_on_the_native_path_is_an_in_stream_429_error_frame(emu: Emulator) -> None:
    response = post_with(emu, Fault.rate_limit_200())

    assert response.status_code == 200
    assert response.content.startswith(b'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling.RateQuota"')


# --- the live service's bodies (PROTOCOL.md, "More from public captures") ----------------------

QUOTA_RESET = "Your token-plan 1-week quota has been exhausted. The quota will reset at 08-12 14:52:00 UTC."


@pytest.mark.parametrize(
    ("name", "status", "code", "message"),
    [
        ("model_access_denied", 403, "Model.AccessDenied", "Model access denied."),
        ("token_plan_quota", 429, "Throttling.AllocationQuota", "Your token-plan quota has been exhausted."),
        ("token_plan_quota_reset", 429, "Throttling.AllocationQuota", QUOTA_RESET),
        (
            "resource_exhausted",
            429,
            "Throttling.ResourceExhausted",
            "An error occurred in model serving, error message is: [Too many requests.]",
        ),
    ],
)
@pytest.mark.parametrize("path", [TEXT_GENERATION, CHAT, RESPONSES])
def test_the_captured_error_bodies_are_sent_in_each_endpoints_shape(
    emu: Emulator, name: str, status: int, code: str, message: str, path: str
) -> None:
    response = post_with(emu, Fault.named(name), path)

    assert response.status_code == status
    body = response.json()
    if path == CHAT:  # as captured: the DashScope code as both type and code
        assert body["error"]["code"] == body["error"]["type"] == code
        assert body["error"]["message"] == f"{message} {HELP_LINK}" and body["request_id"]
    else:
        assert (body["code"], body["message"]) == (code, message) and body["request_id"]
    assert ("retry-after" in response.headers) == (name == "resource_exhausted")


def test_an_exhausted_token_plan_can_arrive_as_an_error_frame_in_a_200_stream(emu: Emulator) -> None:
    response = post_with(emu, Fault.named("token_plan_quota_stream"))

    assert response.status_code == 200
    head, _, data = response.content.partition(b"data:")
    assert head == b"id:1\nevent:error\n:HTTP_STATUS/429\n"
    assert json.loads(data)["code"] == "Throttling.AllocationQuota" and json.loads(data)["message"] == QUOTA_RESET


# --- faults by name, from the question ------------------------------------------------------


def test_a_fault_directive_in_the_question_applies_that_fault(emu: Emulator) -> None:
    response = post(emu, body=native_body(SEED_QUESTION + " #fault=429"))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


def test_a_fault_directive_is_removed_before_choosing_the_conversation(emu: Emulator) -> None:
    _, chunks, complete = raw_post(emu, body=native_body("#fault=drop " + SEED_QUESTION))

    assert chunks == blocks(SEED_NATIVE)[:3]
    assert not complete


def test_an_unknown_fault_directive_is_refused_with_the_known_names(emu: Emulator) -> None:
    response = post(emu, CHAT, chat_body("hello #fault=nonsense", include_usage=True))

    assert response.status_code == 400
    assert "drop" in response.json()["error"]["message"]


def test_a_queued_fault_wins_over_a_directive(emu: Emulator) -> None:
    emu.add_fault(Fault.status(503))

    assert post(emu, body=native_body(SEED_QUESTION + " #fault=429")).status_code == 503


@pytest.mark.parametrize("name", sorted(FAULT_NAMES))
def test_every_named_fault_builds(name: str) -> None:
    assert isinstance(Fault.named(name), Fault)


def test_fault_constructors_refuse_impossible_arguments() -> None:
    for build in (
        lambda: Fault.status(200),
        lambda: Fault.status(500, body="xml"),  # type: ignore[arg-type]
        lambda: Fault.drop(after_events=-1),
        lambda: Fault.error_event(spelling="event :error"),  # type: ignore[arg-type]
        lambda: Fault.error_event(status_line="header"),  # type: ignore[arg-type]
        lambda: Fault.drip(chunk=0),
        lambda: Fault.chunks([]),
        lambda: Fault.line_endings("\n\r"),
        lambda: Fault.keepalive(every=0),
        lambda: Fault.huge_line(size=0),
        lambda: Fault.named("nonsense"),
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - each builder words its own refusal
            build()


def test_faults_are_immutable_and_comparable() -> None:
    fault = Fault.status(429, retry_after="0")

    assert fault == Fault.status(429, retry_after="0")
    with pytest.raises(AttributeError):
        fault.status_code = 500  # type: ignore[misc]


def test_truncate_ends_each_stream_cleanly_without_its_terminator(emu: Emulator) -> None:
    emu.add_fault(Fault.truncate(last=2))
    _head, chunks, finished = raw_post(emu, CHAT)
    chat = blocks(b"".join(chunks))
    assert finished, "the HTTP body ends cleanly: only the stream's own end is missing"
    assert json.loads(chat[-1][len(b"data: ") :])["choices"][0]["finish_reason"] == "stop"
    assert b"[DONE]" not in b"".join(chunks)

    emu.add_fault(Fault.truncate(last=1))
    responses = blocks(post(emu, RESPONSES).content)
    assert b"response.completed" not in b"".join(responses) and b"response.output_item.done" in responses[-1]
