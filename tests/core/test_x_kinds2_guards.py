"""Behaviours only `make mutate KINDS=names` broke (issue 26): a stored None where a default was meant, a number
said without its thousands separators or rounded, a type's None dropped. Each test fails with its break."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from qwen_ci_tool import AdaptiveLimiter, CodeInterpreterResult
from qwen_ci_tool._arguments import invalid_arguments
from qwen_ci_tool._classify import read_failure
from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool._result import result_markdown
from qwen_ci_tool._watchdog import Watchdog

from ._frames import chat_stream, responses_event, responses_stream
from ._mock import MODES, Script, run, sse_response
from .test_watchdog import _blocked_read_returns, _Response

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rid", [None, ""], ids=["null", "empty"])
async def test_a_chat_stream_whose_request_id_is_null_or_empty_takes_the_headers(mode: str, rid: object) -> None:
    first, _, rest = chat_stream().partition("\n\n")
    body = json.loads(first.removeprefix("data: "))
    body["request_id"] = rid
    frames = "data: " + json.dumps(body) + "\n\n" + rest
    result = await run(mode, Script(lambda: sse_response(frames)), protocol="openai")
    assert result.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_first_event_whose_response_is_null_starts_the_answer_as_usual(mode: str) -> None:
    frames = responses_event("response.created", response=None) + responses_stream()
    bare = {"content-type": "text/event-stream"}  # no request id header: the stream's own is looked for
    clean = await run(mode, Script(lambda: sse_response(responses_stream(), headers=bare)), protocol="responses")
    result = await run(mode, Script(lambda: sse_response(frames, headers=bare)), protocol="responses")
    assert result.status == "completed" and result.answer == clean.answer


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_event_whose_type_is_null_is_read_by_its_sse_event_name(mode: str) -> None:
    named = responses_event("response.output_text.delta", delta="It is 42.")
    untyped = named.replace('"type": "response.output_text.delta"', '"type": null')
    assert untyped != named
    frames = responses_stream().replace(named, untyped)
    result = await run(mode, Script(lambda: sse_response(frames)), protocol="responses")
    assert result.answer == "It is 42."


def test_an_in_band_failure_whose_request_id_is_null_takes_the_responses_own() -> None:
    failed = {"status": "failed", "id": "resp_1", "request_id": "rid-7", "error": {"code": "server_error"}}
    failure = read_failure({"type": "response.failed", "request_id": None, "response": failed})
    assert failure.request_id == "rid-7"


def test_a_question_too_long_says_its_length_with_thousands_separators() -> None:
    error = {"type": "string_too_long", "loc": ("question",), "input": "x" * 500_001, "msg": "too long"}
    err = invalid_arguments("calc", [error], {"question": "a question"})
    assert "has 500,001 characters, too many" in err.message


def test_a_cut_markdown_says_how_many_characters_were_left_out_with_thousands_separators() -> None:
    result = CodeInterpreterResult.from_dict({"answer": "x" * 3000, "protocol": "dashscope", "status": "completed"})
    whole = result_markdown(result)
    cut = result_markdown(result, max_chars=len(whole) - 1500)
    assert "[truncated: 1," in cut


def test_a_limiters_repr_says_its_rate_to_three_significant_digits() -> None:
    limiter = AdaptiveLimiter(4)
    limiter.rate = 1 / 3
    assert "rate=0.333/s" in repr(limiter)


def test_the_timeouts_help_says_their_default_seconds_as_a_plain_number() -> None:
    assert "(default 10)" in SETTINGS["connect_timeout"].help
    assert "(default 180)" in SETTINGS["idle_timeout"].help


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_output_item_that_is_null_is_skipped(mode: str) -> None:
    frames = responses_event("response.output_item.added", item=None) + responses_stream()
    clean = await run(mode, Script(lambda: sse_response(responses_stream())), protocol="responses")
    result = await run(mode, Script(lambda: sse_response(frames)), protocol="responses")
    assert result.status == "completed" and result.answer == clean.answer


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_completion_whose_response_is_null_still_completes(mode: str) -> None:
    body, _, _ = responses_stream().rpartition("event: response.completed")
    frames = body + responses_event("response.completed", response=None)
    result = await run(mode, Script(lambda: sse_response(frames)), protocol="responses")
    assert (result.status, result.finish_reason, result.answer) == ("completed", "stop", "It is 42.")


@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_incomplete_end_whose_details_are_null_is_incomplete(mode: str) -> None:
    body, _, _ = responses_stream().rpartition("event: response.completed")
    ended = {"id": "resp_1", "status": "incomplete", "incomplete_details": None}
    frames = body + responses_event("response.incomplete", response=ended)
    result = await run(mode, Script(lambda: sse_response(frames)), protocol="responses")
    assert (result.status, result.finish_reason) == ("incomplete", "incomplete")


def test_an_empty_protocol_responses_path_or_workspace_given_is_the_default() -> None:
    from qwen_ci_tool._config import resolve_settings

    settings = resolve_settings(api_key="sk-test", protocol="", responses_path="", workspace="", env={})
    assert (settings.protocol, settings.responses_path, settings.workspace) == (
        "dashscope",
        "/compatible-mode/v1/responses",
        None,
    )


def test_a_too_long_input_and_the_question_rule_say_their_counts_with_thousands_separators() -> None:
    from qwen_ci_tool import ConfigurationError
    from qwen_ci_tool._arguments import QUESTION_ALLOWED
    from qwen_ci_tool._config import build_messages

    assert "at most 500,000 characters" in QUESTION_ALLOWED
    with pytest.raises(ConfigurationError) as info:
        build_messages("x" * 500_001, None)
    assert "The input is 500,001 characters; the limit is 500,000." in info.value.message


class _Parking(threading.Condition):
    """A condition that says when its waiter parks with no deadline (the watchdog with nothing to watch)."""

    def __init__(self) -> None:
        super().__init__()
        self.parked = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            self.parked.set()
        return super().wait(timeout)


def test_the_watchdog_still_shuts_a_socket_watched_after_it_had_nothing_to_watch() -> None:
    dog = Watchdog()
    dog._cond = parking = _Parking()
    first_a, first_b = socket.socketpair()
    later_a, later_b = socket.socketpair()
    try:
        dog.watch(_Response(first_a), 0.02)  # type: ignore[arg-type]
        assert _blocked_read_returns(first_a)
        assert parking.parked.wait(5), "with its heap empty the thread waits for the next watch"
        dog.watch(_Response(later_a), 0.02)  # type: ignore[arg-type]
        assert _blocked_read_returns(later_a)
    finally:
        for s in (first_a, first_b, later_a, later_b):
            s.close()
