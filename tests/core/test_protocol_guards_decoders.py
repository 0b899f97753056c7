"""What the Responses and Chat Completions decoders make of the frames the mutation sweep of issue 26 left
unpinned (sw-proto's survivors): an error event with no status, empty deltas, code deltas before their item,
the reason of an incomplete response, a failed status on an event of another type."""

from __future__ import annotations

from typing import Any

import pytest

from qwen_ci_tool import (
    AnswerDelta,
    BadRequestError,
    CodeRunUpdated,
    InternalServerError,
    ReasoningDelta,
    StreamStarted,
)

from ._frames import responses_event
from ._mock import MODES, Script, events, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

USAGE = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
CREATED = responses_event("response.created", response={"id": "resp_1"})


def _completed(*frames: str) -> str:
    return CREATED + "".join(frames) + responses_event("response.completed", response={"id": "resp_1", "usage": USAGE})


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_error_event_without_a_status_is_the_services_error(mode: str) -> None:
    frames = CREATED + 'data: {"type":"error","code":"InternalError","message":"boom"}\n\n'
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(sse_response(frames)), protocol="responses", max_retries=0)
    assert "(InternalError, inside an HTTP 200 reply): boom." in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_event_of_any_type_whose_status_is_failed_is_the_services_error(mode: str) -> None:
    failed = responses_event("response.other", status="failed", error={"code": "InternalError", "message": "boom"})
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(sse_response(CREATED + failed)), protocol="responses", max_retries=0)
    assert "(InternalError, inside an HTTP 200 reply): boom." in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_error_event_without_an_error_key_or_a_status_is_a_refused_request(mode: str) -> None:
    frames = 'event:error\ndata: {"message":"boom"}\n\n'
    with pytest.raises(BadRequestError) as info:
        await run(mode, Script(sse_response(frames)), protocol="openai", max_retries=0)
    assert info.value.status_code == 400 and "boom" in info.value.message


@pytest.mark.parametrize("mode", MODES)
async def test_empty_responses_deltas_are_no_events(mode: str) -> None:
    frames = _completed(
        responses_event("response.reasoning_text.delta", delta=""),
        responses_event("response.output_text.delta", delta=""),
        responses_event("response.output_text.delta", delta="ok"),
    )
    evs = await events(mode, Script(sse_response(frames)), protocol="responses")
    deltas = [e for e in evs if isinstance(e, (AnswerDelta, ReasoningDelta))]
    assert deltas == [AnswerDelta("ok")]


@pytest.mark.parametrize("mode", MODES)
async def test_responses_code_deltas_before_their_item_grow_one_run_that_the_item_then_finishes(mode: str) -> None:
    item = {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "code": "print(1)",
        "outputs": [{"type": "logs", "logs": "1\n"}],
    }
    frames = _completed(
        responses_event("response.code_interpreter_call_code.delta", item_id="ci_1", delta="print("),
        responses_event("response.code_interpreter_call_code.delta", item_id="ci_1", delta="1)"),
        responses_event("response.output_item.done", item=item),
        responses_event("response.output_text.delta", delta="1"),
    )
    evs = await events(mode, Script(sse_response(frames)), protocol="responses")
    runs = [(e.index, e.code, e.output) for e in evs if isinstance(e, CodeRunUpdated)]
    assert runs == [(0, "print(", None), (0, "print(1)", None), (0, "print(1)", "1\n")]
    result = await run(mode, Script(sse_response(frames)), protocol="responses")
    assert [(r.code, r.output) for r in result.code_runs] == [("print(1)", "1\n")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("details", "finish_reason"),
    [
        (None, "incomplete"),
        ({"reason": "max_output_tokens"}, "length"),
        ({"reason": "content_filter"}, "content_filter"),
        ({"reason": "a_reason_added_later"}, "a_reason_added_later"),
    ],
    ids=["no details", "tokens", "filter", "unknown kept"],
)
async def test_an_incomplete_response_names_its_reason_and_keeps_one_it_does_not_know(
    mode: str, details: dict[str, Any] | None, finish_reason: str
) -> None:
    response: dict[str, Any] = {"id": "resp_1", "usage": USAGE}
    if details is not None:
        response["incomplete_details"] = details
    frames = (
        CREATED
        + responses_event("response.output_text.delta", delta="part")
        + responses_event("response.incomplete", response=response)
    )
    result = await run(mode, Script(sse_response(frames)), protocol="responses")
    assert (result.status, result.finish_reason, result.answer) == ("incomplete", finish_reason, "part")


@pytest.mark.parametrize("mode", MODES)
async def test_the_first_responses_event_names_the_model_asked_for(mode: str) -> None:
    evs = await events(mode, Script(sse_response(_completed())), protocol="responses", model="qwen3.5-plus")
    assert isinstance(evs[0], StreamStarted) and evs[0].model == "qwen3.5-plus"
