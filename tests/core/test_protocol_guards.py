"""What the wire protocols' decoders read (qwen_ci_tool._protocols), pinned where the mutation sweep of
issue 26 found a one-line break that no test caught: each test fails when its line breaks."""

from __future__ import annotations

import json

import pytest

from qwen_ci_tool import CodeRunUpdated, InternalServerError, ProtocolError

from ._frames import native_frame, native_stream, responses_event
from ._mock import MODES, Script, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
async def test_a_frame_of_malformed_json_is_reported_with_why_and_the_start_of_it(mode: str) -> None:
    frame = 'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output": oops}\n\n'
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(sse_response(frame)))
    assert "malformed JSON" in info.value.message
    assert "position" in info.value.message and '{"output": oops}' in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_error_status_frame_without_data_says_the_body_was_empty(mode: str) -> None:
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(sse_response(":HTTP_STATUS/500\n\n")), max_retries=0)
    assert info.value.status_code == 500 and "empty body" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_error_frame_whose_data_is_not_an_object_is_still_the_services_error(mode: str) -> None:
    frame = 'event:error\n:HTTP_STATUS/500\ndata:["not", "an", "object"]\n\n'
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(sse_response(frame)), max_retries=0)
    assert info.value.status_code == 500


def _responses_with_outputs(outputs: list[object]) -> str:
    item = {"type": "code_interpreter_call", "id": "ci_1", "code": "print(1); print(2)", "outputs": outputs}
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    return "".join(
        [
            responses_event("response.created", response={"id": "resp_1"}),
            responses_event("response.output_item.done", item=item),
            responses_event("response.output_text.delta", delta="done"),
            responses_event("response.completed", response={"id": "resp_1", "usage": usage}),
        ]
    )


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_run_with_several_logs_outputs_keeps_them_joined_as_printed(mode: str) -> None:
    frames = _responses_with_outputs([{"type": "logs", "logs": "1\n"}, {"type": "logs", "logs": "2\n"}])
    result = await run(mode, Script(sse_response(frames)), protocol="responses")
    assert [run.output for run in result.code_runs] == ["1\n2\n"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_run_ignores_outputs_that_are_not_logs_objects(mode: str) -> None:
    outputs = ["junk", {"type": "image", "url": "https://example.invalid/a.png"}, {"type": "logs", "logs": "42\n"}]
    result = await run(mode, Script(sse_response(_responses_with_outputs(outputs))), protocol="responses")
    assert [run.output for run in result.code_runs] == ["42\n"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_run_that_finished_without_outputs_printed_nothing(mode: str) -> None:
    item = {"type": "code_interpreter_call", "id": "ci_1", "code": "x = 1", "container_id": 7}
    frames = "".join(
        [
            responses_event("response.created", response={"id": "resp_1"}),
            responses_event("response.output_item.done", item=item),
            responses_event("response.completed", response={"id": "resp_1"}),
        ]
    )
    result = await run(mode, Script(sse_response(frames)), protocol="responses")
    # No outputs list: it printed nothing (not "unknown"); a container id that is not a string is dropped.
    assert [(r.output, r.container_id) for r in result.code_runs] == [("", None)]


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_run_still_running_has_no_output_yet(mode: str) -> None:
    item = {"type": "code_interpreter_call", "id": "ci_1", "code": "print(42)", "outputs": []}
    done = {**item, "outputs": [{"type": "logs", "logs": "42\n"}]}
    frames = "".join(
        [
            responses_event("response.created", response={"id": "resp_1"}),
            responses_event("response.output_item.added", item=item),
            responses_event("response.output_item.done", item=done),
            responses_event("response.completed", response={"id": "resp_1"}),
        ]
    )
    seen = await events(mode, Script(sse_response(frames)), protocol="responses")
    assert [e.output for e in seen if isinstance(e, CodeRunUpdated)] == [None, "42\n"]


def _native_tools(*frames: list[object]) -> str:
    body = [native_frame(1, reasoning="let me run it")]
    for i, tools in enumerate(frames, start=2):
        info = [
            {"code_interpreter": {"code": c}, "type": "code_interpreter"} if isinstance(c, str) or c is None else c
            for c in tools
        ]
        raw = native_frame(i, tools=[]).replace(
            '"tool_info":[]', '"tool_info":' + json.dumps(info, separators=(",", ":"))
        )
        body.append(raw)
    body.append(native_frame(len(frames) + 2, content="done", finish="stop"))
    return "".join(body)


@pytest.mark.parametrize("mode", MODES)
async def test_native_code_runs_are_numbered_in_order_and_entries_that_are_not_runs_are_skipped(mode: str) -> None:
    frames = _native_tools(["a = 1", 42, "b = 2", "c = 3"])  # 42: an entry that is not a run
    result = await run(mode, Script(sse_response(frames)))
    assert [(r.index, r.code) for r in result.code_runs] == [(0, "a = 1"), (1, "b = 2"), (2, "c = 3")]


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_code_run_repeated_unchanged_is_reported_once(mode: str) -> None:
    seen = await events(mode, Script(sse_response(_native_tools(["a = 1"], ["a = 1"]))))
    assert [(e.index, e.code) for e in seen if isinstance(e, CodeRunUpdated)] == [(0, "a = 1")]


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_code_run_whose_code_is_not_a_string_is_an_empty_run_that_the_result_drops(mode: str) -> None:
    sync_events = await events(mode, Script(sse_response(_native_tools([None]))))
    assert [e.code for e in sync_events if isinstance(e, CodeRunUpdated)] == [""]
    result = await run(mode, Script(sse_response(_native_tools([None]))))
    assert result.code_runs == ()


@pytest.mark.parametrize(
    ("protocol", "frame"),
    [
        pytest.param("dashscope", {"output": {"choices": [1]}}, id="native: a number for a choice"),
        pytest.param("openai", {"choices": [{"delta": 1}]}, id="openai: a number for a delta"),
        pytest.param(
            "responses", {"type": "response.output_item.added", "item": 1}, id="responses: a number for an item"
        ),
    ],
)
@pytest.mark.parametrize("mode", MODES)
async def test_a_frame_with_a_value_where_an_object_belongs_is_a_protocol_error_saying_so(
    mode: str, protocol: str, frame: dict[str, object]
) -> None:
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(sse_response(f"data:{json.dumps(frame)}\n\n")), protocol=protocol, max_retries=0)
    assert "unexpected shape" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_frame_whose_json_is_not_an_object_is_skipped_and_the_answer_is_whole(mode: str) -> None:
    clean = await run(mode, Script(sse_response(native_stream())))
    noisy = "data:[1, 2]\n\n" + 'data:"keep-alive"\n\n' + native_stream()
    result = await run(mode, Script(sse_response(noisy)))
    assert result.status == "completed" and result.answer == clean.answer
    assert [r.code for r in result.code_runs] == [r.code for r in clean.code_runs]
