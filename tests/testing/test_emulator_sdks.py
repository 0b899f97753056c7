"""Fidelity: the official ``dashscope`` and ``openai`` SDKs, pointed at the emulator, parse its
streams and errors as they parse the real service's."""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import dashscope
import openai
import pytest

from benchmarks._common import dashscope_stream, openai_stream
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, TWO_RUN_QUESTION, Emulator, Fault, emulator_stream_path

SEED_RUN_REASONING_START = "The user is asking me to calculate 123 raised to the power of 21."


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator() as emulator:
        # The SDK reads this module attribute on every call; monkeypatch restores it afterwards.
        monkeypatch.setattr(dashscope, "base_http_api_url", emulator.base_url + "/api/v1")
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=emu.base_url + "/compatible-mode/v1", api_key="sk-test", max_retries=0) as c:
        yield c


def generation(question: str = SEED_QUESTION, api_key: str = "sk-test", model: str = "qwen3-max-preview") -> list[Any]:
    return list(dashscope_stream(question, api_key, model))


def chat(client: openai.OpenAI, question: str = SEED_QUESTION) -> list[Any]:
    return list(openai_stream(client, question, "qwen3-max-preview"))


# --- dashscope ---------------------------------------------------------------------------------


def test_dashscope_sdk_parses_the_seed_stream(emu: Emulator) -> None:
    chunks = generation()
    messages = [c.output.choices[0].message for c in chunks]

    assert {c.status_code for c in chunks} == {HTTPStatus.OK}
    assert len(chunks) == 54
    assert "".join(m.content for m in messages) == "123 to the power of 21 is:\n\n" + SEED_ANSWER
    assert "".join(m.reasoning_content for m in messages).startswith(SEED_RUN_REASONING_START)
    assert chunks[-1].output.tool_info == [{"code_interpreter": {"code": "123**21"}, "type": "code_interpreter"}]
    assert chunks[-1].output.choices[0].finish_reason == "stop"
    assert chunks[-1].usage.plugins == {"code_interpreter": {"count": 1}}
    assert chunks[-1].usage.input_tokens == 734
    assert chunks[-1].request_id == "a1959ad1-2637-4672-a21f-4d351371d254"


def test_dashscope_sdk_request_carries_the_headers_and_body_the_protocol_describes(emu: Emulator) -> None:
    generation()
    request = emu.requests[-1]

    assert request.path == "/api/v1/services/aigc/text-generation/generation"
    assert request.headers["x-dashscope-sse"] == "enable"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["accept"] == "text/event-stream"
    assert "stream" not in request.json
    assert request.json["parameters"]["enable_code_interpreter"] is True


def test_dashscope_sdk_reads_a_replayed_emulator_made_stream_as_it_reads_a_served_one(emu: Emulator) -> None:
    emu.replay(emulator_stream_path("native_seed"))

    replayed, served = generation(), generation()

    assert [c.output for c in replayed] == [c.output for c in served]


def test_dashscope_sdk_sees_the_two_runs_and_their_count(emu: Emulator) -> None:
    chunks = generation(TWO_RUN_QUESTION)

    assert [t["code_interpreter"]["code"] for t in chunks[-1].output.tool_info] == [
        "123**23",
        "1169008215014432917465348578887506800769541157267 / 5",
    ]
    assert chunks[-1].usage.plugins == {"code_interpreter": {"count": 2}}


def test_dashscope_sdk_reports_a_wrong_key_as_401_invalid_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(api_key="sk-right") as emu:
        monkeypatch.setattr(dashscope, "base_http_api_url", emu.base_url + "/api/v1")
        (response,) = generation(api_key="sk-wrong")

    assert (response.status_code, response.code, response.message) == (
        401,
        "InvalidApiKey",
        "Invalid API-key provided.",
    )


def test_dashscope_sdk_reports_a_429_with_its_code_and_request_id(emu: Emulator) -> None:
    emu.add_fault(Fault.status(429, retry_after="0", request_id="rid-429"))

    (response,) = generation()

    assert (response.status_code, response.code, response.request_id) == (429, "Throttling.RateQuota", "rid-429")


def test_dashscope_sdk_gives_an_in_stream_error_status_400_without_a_status_line(emu: Emulator) -> None:
    emu.add_fault(Fault.error_event(after_events=3, status_line="comment"))

    chunks = generation()

    assert [c.status_code for c in chunks] == [200, 200, 200, 400]
    assert chunks[-1].code == "InternalError"


def test_dashscope_sdk_reads_an_in_stream_error_status_from_the_status_line(emu: Emulator) -> None:
    emu.add_fault(Fault.error_event(after_events=3, code="Throttling.RateQuota", status=429, status_line="both"))

    chunks = generation()

    assert (chunks[-1].status_code, chunks[-1].code) == (429, "Throttling.RateQuota")


def test_dashscope_sdk_misreads_an_error_event_spelled_with_a_space(emu: Emulator) -> None:
    # The vendor SDK compares the raw text after "event:", takes the error for a result frame
    # without "output" and fails building it; our own client must accept both spellings.
    emu.add_fault(Fault.error_event(after_events=3, spelling="event: error"))

    with pytest.raises(TypeError, match="GenerationOutput"):
        generation()


def test_dashscope_multimodal_sdk_parses_the_list_of_parts_content(emu: Emulator) -> None:
    chunks = list(
        dashscope.MultiModalConversation.call(
            model="qwen3.5-plus",
            messages=[{"role": "user", "content": [{"text": SEED_QUESTION}]}],
            enable_code_interpreter=True,
            enable_thinking=True,
            result_format="message",
            stream=True,
            incremental_output=True,
            api_key="sk-test",
        )
    )
    text = "".join(part["text"] for c in chunks for part in c.output.choices[0].message.content)

    assert emu.requests[-1].path == "/api/v1/services/aigc/multimodal-generation/generation"
    assert text == "123 to the power of 21 is:\n\n" + SEED_ANSWER
    assert chunks[-1].output.tool_info[0]["code_interpreter"]["code"] == "123**21"


def test_dashscope_sdk_gets_the_url_error_for_a_newer_model_on_text_generation(emu: Emulator) -> None:
    (response,) = generation(model="qwen3.5-plus")

    assert (response.status_code, response.code) == (400, "InvalidParameter")
    assert "url error" in response.message


# --- openai: Chat Completions ----------------------------------------------------------------


def test_openai_sdk_parses_the_seed_chunks_usage_and_done(client: openai.OpenAI) -> None:
    chunks = chat(client)
    deltas = [c.choices[0].delta for c in chunks if c.choices]

    assert "".join(d.content or "" for d in deltas) == (
        "123 to the power of 21 is:\n\n" + SEED_ANSWER + "\n\nThis is a very large number, with a total of 43 digits."
    )
    assert "".join(d.reasoning_content or "" for d in deltas).startswith("The user is asking for 123")  # type: ignore[attr-defined]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens, chunks[-1].usage.total_tokens) == (
        719,
        245,
        964,
    )
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 153
    assert chunks[0].id == "chatcmpl-2f96ef0b-5924-4dfc-b768-4d53ec538b4e"


def test_openai_sdk_raises_rate_limit_error_for_a_429(emu: Emulator, client: openai.OpenAI) -> None:
    emu.add_fault(Fault.status(429, retry_after="0"))

    with pytest.raises(openai.RateLimitError) as caught:
        chat(client)

    assert caught.value.status_code == 429
    assert caught.value.code == "limit_requests"


def test_openai_sdk_raises_authentication_error_for_a_401(emu: Emulator) -> None:
    with (
        Emulator(api_key="sk-right") as strict,
        openai.OpenAI(base_url=strict.base_url + "/compatible-mode/v1", api_key="sk-wrong", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        chat(wrong)

    assert caught.value.code == "invalid_api_key"


def test_openai_sdk_raises_api_error_for_an_in_stream_error_chunk(emu: Emulator, client: openai.OpenAI) -> None:
    emu.add_fault(Fault.error_event(after_events=3, message="sandbox failed"))

    with pytest.raises(openai.APIError, match="sandbox failed"):
        chat(client)


# --- openai: Responses API -------------------------------------------------------------------


def responses_stream(client: openai.OpenAI, question: str = SEED_QUESTION) -> list[Any]:
    stream = client.responses.create(
        model="qwen3-max",
        input=question,
        tools=[{"type": "code_interpreter"}],  # type: ignore[list-item]
        stream=True,
        extra_body={"enable_thinking": True},
    )
    return list(stream)


def test_openai_sdk_parses_the_responses_stream_into_its_typed_events(client: openai.OpenAI) -> None:
    events = responses_stream(client, TWO_RUN_QUESTION)
    runs = [e.item for e in events if e.type == "response.output_item.done" and e.item.type == "code_interpreter_call"]
    reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    final = events[-1]

    assert {type(e).__module__.split(".")[1] for e in events} == {"types"}
    assert [type(r).__name__ for r in runs] == ["ResponseCodeInterpreterToolCall"] * 2
    assert [(r.code, r.outputs[0].logs, r.status) for r in runs] == [
        ("123**23", "1169008215014432917465348578887506800769541157267", "completed"),
        ("1169008215014432917465348578887506800769541157267 / 5", "2.338016430028866e+47", "completed"),
    ]
    assert reasoning.startswith("The user wants to run the code interpreter twice")
    assert type(final).__name__ == "ResponseCompletedEvent"
    assert final.response.output_text.endswith("2.338016430028866e+47")
    assert final.response.usage.output_tokens_details.reasoning_tokens > 0
    assert final.response.usage.x_tools == {"code_interpreter": {"count": 2}}  # type: ignore[attr-defined]


def test_openai_sdk_parses_a_non_streaming_response(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="qwen3-max",
        input=SEED_QUESTION,
        tools=[{"type": "code_interpreter"}],  # type: ignore[list-item]
        extra_body={"enable_thinking": True},
    )

    assert response.output_text.endswith(SEED_ANSWER)
    assert response.status == "completed"


def test_openai_sdk_sees_the_streamed_rate_limit_as_a_failed_response_event(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.add_fault(Fault.rate_limit_200(streamed=True))

    events = responses_stream(client)

    assert type(events[-1]).__name__ == "ResponseFailedEvent"
    assert events[-1].response.status == "failed"
    assert events[-1].response.error.code == "server_error"


def test_openai_sdk_parses_the_documented_rate_limit_body_as_a_failed_response(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.add_fault(Fault.rate_limit_200())

    response = client.responses.create(
        model="qwen3-max",
        input=SEED_QUESTION,
        tools=[{"type": "code_interpreter"}],  # type: ignore[list-item]
        extra_body={"enable_thinking": True},
    )

    assert response.status == "failed" and response.error is not None
    assert response.error.code == "server_error" and "rate limit" in response.error.message


def test_openai_sdk_parses_reasoning_in_the_summary_spelling(emu: Emulator, client: openai.OpenAI) -> None:
    emu.add_fault(Fault.reasoning_summary())

    events = responses_stream(client)
    reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")

    assert type(events[-1]).__name__ == "ResponseCompletedEvent"
    assert reasoning.startswith("The") and not any(e.type.startswith("response.reasoning_text") for e in events)


def test_openai_sdk_raises_bad_request_for_a_responses_call_without_the_interpreter_tool(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="qwen3-max", input=SEED_QUESTION, stream=True)

    assert caught.value.body == {
        "request_id": caught.value.request_id,
        "code": "InvalidParameter",
        "message": 'The emulator only serves code-interpreter requests: add {"type": "code_interpreter"} to tools.',
    }


def test_openai_sdk_lists_the_models_and_gets_its_authentication_error(client: openai.OpenAI) -> None:
    assert "qwen3-max" in [m.id for m in client.models.list()]
    with (
        Emulator(api_key="sk-right") as strict,
        openai.OpenAI(base_url=strict.base_url + "/compatible-mode/v1", api_key="sk-wrong", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError),
    ):
        wrong.models.list()
