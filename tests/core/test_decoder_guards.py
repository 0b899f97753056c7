"""Rules of the three decoders, the SSE parser and the accumulator, each pinned by a test that
fails when its line breaks: through the public clients over a MockTransport, pure parts directly."""

from __future__ import annotations

import pytest

from qwen_ci_tool import (
    AnswerDelta,
    BadRequestError,
    CodeRunUpdated,
    InternalServerError,
    ProtocolError,
    ReasoningDelta,
    UsageUpdated,
)
from qwen_ci_tool._accumulator import Accumulator, Closed
from qwen_ci_tool._sse import SSEParser
from qwen_ci_tool._types import Timings

from ._frames import chat_chunk, chat_stream, native_frame, responses_event, responses_stream
from ._mock import MODES, Script, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

CODE_ITEM = {"type": "code_interpreter_call", "id": "ci_1", "status": "in_progress", "code": "", "container_id": "c-1"}


def responses(*frames: str, usage: bool = True) -> str:
    end = responses_event(
        "response.completed",
        response={"id": "resp_1", "status": "completed", "usage": {"input_tokens": 1, "total_tokens": 2}},
    )
    return responses_event("response.created", response={"id": "resp_1"}) + "".join(frames) + (end if usage else "")


# --- native -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_error_frame_without_output_or_status_is_refused_by_its_code(mode: str) -> None:
    frame = 'id:1\nevent:result\ndata:{"code":"InvalidParameter","message":"bad input","request_id":"r-1"}\n\n'
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(lambda: sse_response(frame)), max_retries=0)
    assert info.value.code == "InvalidParameter" and "bad input" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_error_frame_with_a_status_and_no_data_is_that_status(mode: str) -> None:
    frames = native_frame(1, content="half") + "id:2\nevent:error\n:HTTP_STATUS/500\n\n"
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(lambda: sse_response(frames)), max_retries=0)
    assert info.value.status_code == 500 and info.value.partial is not None


@pytest.mark.parametrize("mode", MODES)
async def test_native_usage_repeated_unchanged_is_one_usage_event(mode: str) -> None:
    same = {"total_tokens": 12, "output_tokens": 2, "input_tokens": 10}
    frames = "".join(native_frame(i, content=f"{i} ", usage=same) for i in range(1, 5)) + native_frame(
        5, finish="stop", usage={**same, "total_tokens": 13}
    )
    evs = await events(mode, lambda r: sse_response(frames))
    assert [e.usage.total_tokens for e in evs if isinstance(e, UsageUpdated)] == [12, 13]


@pytest.mark.parametrize("mode", MODES)
async def test_an_empty_request_id_in_the_body_falls_back_to_the_header(mode: str) -> None:
    frames = native_frame(1, content="ok", finish="stop", request_id="")
    result = await run(mode, lambda r: sse_response(frames))
    assert result.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_frame_with_text_after_its_json_is_a_protocol_error(mode: str) -> None:
    good = native_frame(1, content="ok")
    broken = native_frame(2, finish="stop").replace("}\n\n", "} trailing\n\n")
    with pytest.raises(ProtocolError, match="JSON"):
        await run(mode, lambda r: sse_response(good + broken), max_retries=0)


# --- openai (Chat Completions) -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_an_openai_chunk_with_an_error_object_is_the_services_error(mode: str) -> None:
    frames = chat_chunk({"content": "half"}) + 'data: {"error": {"code": "InternalError", "message": "gone"}}\n\n'
    with pytest.raises(InternalServerError, match="gone") as info:
        await run(mode, lambda r: sse_response(frames), protocol="openai", max_retries=0)
    assert info.value.partial is not None and info.value.partial.answer == "half"


@pytest.mark.parametrize("mode", MODES)
async def test_openai_takes_the_request_id_from_the_header_before_the_chunk_id(mode: str) -> None:
    result = await run(mode, lambda r: sse_response(chat_stream()), protocol="openai")
    assert result.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_json_value_that_is_not_an_object_is_ignored(mode: str) -> None:
    frames = chat_stream().replace("data: [DONE]", 'data: [1, 2]\n\ndata: "text"\n\ndata: [DONE]')
    result = await run(mode, lambda r: sse_response(frames), protocol="openai")
    assert result.status == "completed" and result.answer == "42"


# --- responses -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_responses_max_output_tokens_is_finish_reason_length(mode: str) -> None:
    frames = responses_event("response.created", response={"id": "r"}) + responses_event(
        "response.output_text.delta", delta="cut"
    )
    frames += responses_event(
        "response.incomplete", response={"id": "r", "incomplete_details": {"reason": "max_output_tokens"}}
    )
    result = await run(mode, lambda r: sse_response(frames), protocol="responses")
    assert (result.finish_reason, result.status, result.answer) == ("length", "incomplete", "cut")


@pytest.mark.parametrize("mode", MODES)
async def test_responses_output_is_only_the_logs_outputs(mode: str) -> None:
    done = {
        **CODE_ITEM,
        "code": "plot()",
        "outputs": [{"type": "image", "url": "x.png"}, {"type": "logs", "logs": "printed\n"}],
    }
    frames = responses(responses_event("response.output_item.done", item=done))
    result = await run(mode, lambda r: sse_response(frames), protocol="responses")
    assert [(r.code, r.output) for r in result.code_runs] == [("plot()", "printed\n")]


@pytest.mark.parametrize("mode", MODES)
async def test_responses_code_run_events_are_new_once_and_have_output_only_when_done(mode: str) -> None:
    evs = await events(mode, lambda r: sse_response(responses_stream()), protocol="responses")
    runs = [(e.index, e.code, e.output, e.container_id, e.is_new) for e in evs if isinstance(e, CodeRunUpdated)]
    assert runs == [(0, "", None, "c-1", True), (0, "print(6*7)", "42\n", "c-1", False)]


@pytest.mark.parametrize("mode", MODES)
async def test_responses_code_deltas_build_the_code_and_a_done_item_without_code_keeps_it(mode: str) -> None:
    frames = responses(
        responses_event("response.output_item.added", item=CODE_ITEM),
        responses_event("response.code_interpreter_call_code.delta", item_id="ci_1", delta="print("),
        responses_event("response.code_interpreter_call_code.delta", item_id="ci_1", delta="1)"),
        responses_event(
            "response.output_item.done",
            item={"type": "code_interpreter_call", "id": "ci_1", "outputs": [{"type": "logs", "logs": "1\n"}]},
        ),
        responses_event("response.output_text.delta", delta="one"),
    )
    result = await run(mode, lambda r: sse_response(frames), protocol="responses")
    assert [(r.index, r.code, r.output) for r in result.code_runs] == [(0, "print(1)", "1\n")]


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_frame_that_only_says_failed_is_a_failure(mode: str) -> None:
    failed = 'data: {"id": "resp_1", "status": "failed", "error": {"code": "InternalError", "message": "died"}}\n\n'
    frames = responses(responses_event("response.output_text.delta", delta="half"), failed, usage=False)
    with pytest.raises(InternalServerError, match="died"):
        await run(mode, lambda r: sse_response(frames), protocol="responses", max_retries=0)


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_run_that_only_printed_is_kept(mode: str) -> None:
    done = {**CODE_ITEM, "code": "", "outputs": [{"type": "logs", "logs": "out\n"}]}
    frames = responses(responses_event("response.output_item.done", item=done))
    result = await run(mode, lambda r: sse_response(frames), protocol="responses")
    assert [(r.index, r.code, r.output) for r in result.code_runs] == [(0, "", "out\n")]
    assert [s.kind for s in result.steps] == ["code"]


# --- the accumulator -----------------------------------------------------------------------


def test_a_later_update_without_output_or_container_keeps_what_the_run_had() -> None:
    acc = Accumulator(model="m", protocol="responses")
    acc.apply(CodeRunUpdated(0, "x = 1", "done\n", "c-9", is_new=True))
    acc.apply(CodeRunUpdated(0, "x = 1; y = 2"))
    result = acc.build(finish_reason="stop", timings=Timings())
    assert [(r.code, r.output, r.container_id) for r in result.code_runs] == [("x = 1; y = 2", "done\n", "c-9")]


@pytest.mark.parametrize("mode", MODES)
async def test_thousands_of_deltas_join_into_the_exact_text(mode: str) -> None:
    words = [f"w{i} " for i in range(1000)]
    frames = "".join(chat_chunk({"content": w}) for w in words)
    frames += chat_chunk({}, finish="stop") + chat_chunk({}, usage={"total_tokens": 1}) + "data: [DONE]\n\n"
    result = await run(mode, lambda r: sse_response(frames, size=4096), protocol="openai")
    assert result.answer == "".join(words) and [s.kind for s in result.steps] == ["answer"]


def test_only_finish_reason_stop_makes_a_result_completed() -> None:
    acc = Accumulator(model="m", protocol="dashscope")
    assert acc.build(finish_reason="stop", timings=Timings()).status == "completed"
    for reason in ("length", "content_filter", "tool_calls", None):
        assert acc.build(finish_reason=reason, timings=Timings()).status == "incomplete"


# --- the SSE parser ------------------------------------------------------------------------


def test_a_status_field_of_200_is_not_an_error_status() -> None:
    parser = SSEParser()
    events = parser.feed(b"event:result\nstatus: 200\ndata:{}\n\n")
    assert [(e.event, e.status) for e in events] == [("result", None)]


def test_only_one_space_after_the_colon_is_dropped() -> None:
    parser = SSEParser()
    assert [e.data for e in parser.feed(b"data:  two\n\n")] == [b" two"]


def test_a_line_exactly_at_the_limit_is_accepted_and_one_byte_more_is_not() -> None:
    parser = SSEParser(max_line_bytes=10)
    assert parser.feed(b"data:12345") == []  # 10 bytes, the line not ended yet
    assert [e.data for e in parser.feed(b"\n\n")] == [b"12345"]
    parser.feed(b"data:12345")
    with pytest.raises(ProtocolError):
        parser.feed(b"6")


def test_the_line_limit_counts_each_line_alone_however_the_lines_are_cut() -> None:
    parser = SSEParser(max_line_bytes=16)
    got = []
    for i in range(20):  # every line is cut in two: the parts of earlier lines must not add up
        got += parser.feed(f"data:{i:04d}".encode())
        got += parser.feed(b"xx\n\n")
    assert [e.data for e in got] == [f"{i:04d}xx".encode() for i in range(20)]


def test_an_event_with_a_name_and_no_data_is_still_dispatched() -> None:
    parser = SSEParser()
    assert [(e.event, e.data) for e in parser.feed(b"event: ping\n\n")] == [("ping", b"")]


def _closed(closed: Closed | None) -> tuple[str, str] | None:
    return None if closed is None else (closed.step.kind, closed.step.text)


def test_each_step_is_reported_closed_when_the_next_begins_and_the_last_at_the_end() -> None:
    # The faces (the CLI's code runs, the LangChain Runnable's stream) show a step once it is whole.
    acc = Accumulator(model="m", protocol="dashscope")
    said = [
        _closed(acc.apply(event))
        for event in (
            ReasoningDelta("think "),
            ReasoningDelta("more"),
            CodeRunUpdated(0, "print(1)", is_new=True),
            CodeRunUpdated(0, "print(12)"),
            ReasoningDelta("again"),
            AnswerDelta("42"),
        )
    ]
    assert said == [None, None, ("reasoning", "think more"), None, ("code", "print(12)"), ("reasoning", "again")]
    assert _closed(acc.close()) == ("answer", "42") and acc.close() is None


def test_reasoning_after_a_code_run_is_a_new_segment_of_the_transcript() -> None:
    acc = Accumulator(model="m", protocol="dashscope")
    for event in (ReasoningDelta("before"), CodeRunUpdated(0, "x = 1", is_new=True), ReasoningDelta("after")):
        acc.apply(event)
    result = acc.build(finish_reason="stop", timings=Timings())
    assert [(s.kind, s.text) for s in result.steps] == [
        ("reasoning", "before"),
        ("code", "x = 1"),
        ("reasoning", "after"),
    ]
