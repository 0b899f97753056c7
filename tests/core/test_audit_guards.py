"""Behaviours a one-line break left unguarded (the third and fourth mutation audits, issue 26): each
test here fails when its line breaks, through the public clients where the behaviour is visible there."""

from __future__ import annotations

import contextlib
import io
import json

import httpx
import pytest

from qwen_ci_tool import (
    APITimeoutError,
    CodeInterpreter,
    CodeInterpreterResult,
    ConfigurationError,
    InternalServerError,
    RateLimitError,
    StreamInterruptedError,
)
from qwen_ci_tool._result import result_markdown

from ..conftest import PLANTED_KEY
from ._frames import chat_chunk, native_frame, responses_event
from ._mock import Script, run, sse_response
from .test_client_mock import json_error

MODES = ["sync", "async"]

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
async def test_a_code_run_is_content_so_a_stream_that_breaks_after_it_keeps_the_run_as_a_partial(mode: str) -> None:
    # No reasoning or answer before the code run: the run alone commits the stream (the caller saw
    # it), so the break is a StreamInterruptedError with the run kept, and the call is not re-sent.
    item = {"type": "code_interpreter_call", "id": "ci_1", "code": "print(6*7)", "container_id": "c-1"}
    frames = responses_event("response.created", response={"id": "resp_1"}) + responses_event(
        "response.output_item.added", item=item
    )
    broken = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    script = Script(lambda: sse_response(frames, error=broken))
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, script, protocol="responses", max_retries=2)
    partial = info.value.partial
    assert partial is not None and [r.code for r in partial.code_runs] == ["print(6*7)"]
    assert len(script.requests) == 1


@pytest.mark.parametrize("message", ["Rate limit exceeded, please try again later.", "RATE LIMIT reached"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_responses_failure_saying_rate_limit_in_any_case_is_a_rate_limit(mode: str, message: str) -> None:
    body = b'{"status":"failed","error":{"code":"server_error","message":"%s"}}' % message.encode()
    script = Script(httpx.Response(200, headers={"content-type": "application/json"}, content=body))
    with pytest.raises(RateLimitError) as info:
        await run(mode, script, protocol="responses", max_retries=0)
    assert info.value.retryable is True


@pytest.mark.parametrize("mode", MODES)
async def test_a_throttling_failure_inside_a_200_stream_reports_status_429(mode: str) -> None:
    # The service sent no status: a throttling code means a rate limit, so the inferred status is 429.
    failed = {"id": "resp_1", "status": "failed", "error": {"code": "Throttling.RateQuota", "message": "busy"}}
    frames = responses_event("response.created", response={"id": "resp_1"}) + responses_event(
        "response.failed", response=failed
    )
    with pytest.raises(RateLimitError) as info:
        await run(mode, Script(lambda: sse_response(frames)), protocol="responses", max_retries=0)
    assert info.value.status_code == 429 and "inside an HTTP 200 reply" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("max_retries", "note"), [(0, None), (2, "Gave up after 3 attempts.")])
async def test_the_final_error_counts_the_attempts_only_when_the_call_was_retried(
    mode: str, max_retries: int, note: str | None
) -> None:
    script = Script(lambda: json_error(503, {"code": "ServiceUnavailable", "message": "busy"}))
    with pytest.raises(InternalServerError) as info:
        await run(mode, script, max_retries=max_retries)
    message = str(info.value)
    assert (note in message) if note else ("attempts" not in message)


@pytest.mark.parametrize("mode", MODES)
async def test_a_connect_timeouts_advice_names_the_connect_timeout_setting(mode: str) -> None:
    with pytest.raises(APITimeoutError) as info:
        await run(mode, Script(httpx.ConnectTimeout("connect timed out")), max_retries=0)
    advice = str(info.value).split("(the connect timeout).", 1)[1]
    assert "raise connect_timeout" in advice and "idle_timeout" not in advice


@pytest.mark.parametrize("mode", MODES)
async def test_an_in_band_status_alone_is_an_event_the_failure_of_that_status(mode: str) -> None:
    # A gateway's bare ":HTTP_STATUS/503" frame, with no data and no event name, still reports the 503.
    script = Script(lambda: sse_response(":HTTP_STATUS/503\n\n"))
    with pytest.raises(InternalServerError) as info:
        await run(mode, script, max_retries=0)
    assert info.value.status_code == 503


def test_a_code_fence_is_longer_than_any_run_of_backticks_in_the_code() -> None:
    code = 'doc = """\n```\n````\n"""\nprint(doc)'
    result = CodeInterpreterResult.from_dict(
        {"answer": "ok", "code_runs": [{"index": 0, "code": code, "output": None}], "protocol": "dashscope"}
    )
    text = result.to_markdown()
    fence = text.split("### Run #1\n\n", 1)[1].split("python\n", 1)[0]
    assert set(fence) == {"`"} and fence not in code
    assert f"{fence}python\n{code}\n{fence}\n" in text


def test_markdown_cut_to_max_chars_is_at_most_that_long_note_included() -> None:
    result = CodeInterpreterResult.from_dict({"answer": "x" * 5000, "protocol": "dashscope", "status": "completed"})
    text = result_markdown(result, max_chars=1000)
    assert len(text) <= 1000 and "[truncated: " in text and text.startswith("## Answer\n\nxxx")


def test_an_exported_script_prints_a_bare_last_expression_when_run() -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "8",
            "code_runs": [{"index": 0, "code": "x = 2\nx ** 3", "output": "8"}],
            "steps": [{"kind": "code", "text": "x = 2\nx ** 3", "code_run": 0}],
            "protocol": "responses",
            "status": "completed",
        }
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(result.to_script(), "<exported>", "exec"), {})  # the script defines what it uses first
    assert printed.getvalue() == "8\n"


@pytest.mark.parametrize(
    "code",
    ["x = 1\x00", "-" * 200_000 + "1", "def f(:\n    pass"],
    ids=["null byte", "nested past the parser", "not python"],
)
def test_an_exported_script_keeps_code_the_parser_cannot_read_as_it_came(code: str) -> None:
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "ok",
            "code_runs": [{"index": 0, "code": code, "output": None}],
            "steps": [{"kind": "code", "text": code, "code_run": 0}],
            "protocol": "dashscope",
        }
    )
    assert code in result.to_script()


def test_a_base_url_from_the_environment_beats_a_region_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only a region given as an argument overrides the environment's base_url; the environment's own
    # region does not (the base_url is the more specific of the two).
    monkeypatch.setenv("QWEN_CI_REGION", "singapore")
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "https://gateway.example.com/api/v1")
    with CodeInterpreter(api_key="sk-test") as client:
        assert client.base_url == "https://gateway.example.com"
    with CodeInterpreter(api_key="sk-test", region="beijing") as client:
        assert client.base_url == "https://dashscope.aliyuncs.com"


# --- the fourth audit ------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["", "\n", "\n\n"], ids=["no break", "one break", "a blank line"])
@pytest.mark.parametrize("mode", MODES)
async def test_reasoning_segments_around_a_code_run_are_one_blank_line_apart_however_the_first_ended(
    mode: str, ending: str
) -> None:
    frames = "".join(
        [
            native_frame(1, reasoning="Let me compute." + ending),
            native_frame(2, tools=["6*7"]),
            native_frame(3, reasoning="It is 42.", tools=["6*7"]),
            native_frame(4, content="42", tools=["6*7"], finish="stop"),
        ]
    )
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert result.reasoning == "Let me compute.\n\nIt is 42."


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_run_whose_code_is_replaced_by_a_shorter_text_keeps_the_new_code(mode: str) -> None:
    # tool_info repeats every run in each frame: a run's code that changes (not only grows) is an update.
    frames = "".join(
        [
            native_frame(1, tools=["print(12345)"]),
            native_frame(2, tools=["print(1)"]),
            native_frame(3, content="1", tools=["print(1)"], finish="stop"),
        ]
    )
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert [r.code for r in result.code_runs] == ["print(1)"]


@pytest.mark.parametrize("reason", ["", 0, False], ids=["empty", "zero", "false"])
@pytest.mark.parametrize("mode", MODES)
async def test_an_openai_stream_whose_finish_reason_is_empty_or_not_a_string_has_not_finished(
    mode: str, reason: object
) -> None:
    chunk = json.loads(chat_chunk({"content": "42"})[len("data: ") :])
    chunk["choices"][0]["finish_reason"] = reason
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    frames = f"data: {json.dumps(chunk)}\n\n" + chat_chunk({}, usage=usage) + "data: [DONE]\n\n"
    with pytest.raises(StreamInterruptedError, match="no finish reason"):
        await run(mode, Script(lambda: sse_response(frames)), protocol="openai", max_retries=0)


@pytest.mark.parametrize("mode", MODES)
async def test_an_html_page_after_leading_blank_lines_under_a_plain_text_type_is_named_an_html_page(mode: str) -> None:
    page = httpx.Response(
        502, headers={"content-type": "text/plain"}, content=b"\r\n  \n<!DOCTYPE html><html><body>Bad Gateway</body>"
    )
    with pytest.raises(InternalServerError, match="HTML page"):
        await run(mode, Script(page), max_retries=0)


def test_markdown_exactly_max_chars_long_is_whole_and_one_character_more_is_cut() -> None:
    result = CodeInterpreterResult.from_dict({"answer": "x" * 300, "protocol": "dashscope", "status": "completed"})
    whole = result_markdown(result)
    assert result_markdown(result, max_chars=len(whole)) == whole
    cut = result_markdown(result, max_chars=len(whole) - 1)
    assert len(cut) <= len(whole) - 1 and "[truncated: 1 more characters" in cut


@pytest.mark.parametrize("userinfo", [f"{PLANTED_KEY}@", f"{PLANTED_KEY}:@", f"user:{PLANTED_KEY}@"])
def test_a_base_url_with_a_user_but_no_password_is_refused_without_showing_it(userinfo: str) -> None:
    # The key pasted as a URL's user part (no password) would be printed by every message naming the URL.
    with pytest.raises(ConfigurationError) as info:
        CodeInterpreter(api_key="sk-test", base_url=f"https://{userinfo}gateway.example.com/api/v1")
    assert "contains credentials" in str(info.value) and PLANTED_KEY not in str(info.value)
