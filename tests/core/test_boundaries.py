"""Limits tested exactly at their boundary and one past it, and rules over every item tested with
two items where the second one matters (a proactive sweep after the fourth mutation audit, issue 26)."""

from __future__ import annotations

import json

import httpx
import pytest

from qwen_ci_tool import CodeInterpreterResult, ConfigurationError, InternalServerError, _constants
from qwen_ci_tool._config import build_messages
from qwen_ci_tool._model_table import lookup_model
from qwen_ci_tool._secret import Secret

from ..conftest import PLANTED_KEY
from ._frames import native_frame
from ._mock import MODES, Chunks, Script, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_input_exactly_at_the_character_limit_is_accepted_and_one_more_is_refused() -> None:
    limit = _constants.MAX_INPUT_CHARS
    assert build_messages("x" * limit, None) == [{"role": "user", "content": "x" * limit}]
    with pytest.raises(ConfigurationError, match="the limit is"):
        build_messages("x" * (limit + 1), None)


def test_the_input_limit_counts_every_message_not_only_the_question() -> None:
    half = _constants.MAX_INPUT_CHARS // 2 + 1
    history = [{"role": "user", "content": "x" * half}, {"role": "assistant", "content": "y"}]
    with pytest.raises(ConfigurationError, match="the limit is"):
        build_messages(None, [*history, {"role": "user", "content": "z" * half}])


def test_the_input_limit_counts_every_text_part_of_a_message() -> None:
    half = _constants.MAX_INPUT_CHARS // 2 + 1
    with pytest.raises(ConfigurationError, match="the limit is"):
        build_messages(None, [{"role": "user", "content": [{"text": "x" * half}, {"text": "y" * half}]}])


def test_every_content_part_must_be_text_not_only_the_first() -> None:
    with pytest.raises(ConfigurationError, match="only text is supported"):
        build_messages(None, [{"role": "user", "content": [{"text": "What is in it?"}, {"image": "x.png"}]}])


@pytest.mark.parametrize("mode", MODES)
async def test_an_error_body_that_reaches_the_cap_exactly_is_read_no_further(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_constants, "MAX_ERROR_BODY_BYTES", 1000)
    stream = Chunks([b"<html>" + b"x" * 494] * 4)  # 500 bytes each: the cap after two
    page = httpx.Response(502, headers={"content-type": "text/html"}, stream=stream)
    with pytest.raises(InternalServerError, match="HTML page"):
        await run(mode, lambda r: page, max_retries=0)
    assert stream.served == 2


@pytest.mark.parametrize(
    ("name", "path"), [("qwen3.5", "multimodal-generation"), ("qwen3.4", "text-generation")], ids=["3.5", "3.4"]
)
def test_an_unknown_name_of_version_exactly_3_5_takes_the_multimodal_path_and_3_4_does_not(
    name: str, path: str
) -> None:
    info = lookup_model(name)
    assert not info.known and info.native_endpoint == path


@pytest.mark.parametrize("mode", MODES)
async def test_an_answer_sent_as_a_list_of_text_parts_keeps_every_part(mode: str) -> None:
    frames = native_frame(1, content=[{"text": "12"}, {"text": "3"}], finish="stop")
    result = await run(mode, Script(lambda: sse_response(frames)))
    assert result.answer == "123"


def _two_runs_the_second_without_output() -> CodeInterpreterResult:
    return CodeInterpreterResult.from_dict(
        {
            "answer": "2",
            "code_runs": [{"index": 0, "code": "1", "output": "1"}, {"index": 1, "code": "2", "output": None}],
            "steps": [{"kind": "code", "text": "1", "code_run": 0}, {"kind": "code", "text": "2", "code_run": 1}],
            "protocol": "dashscope",
            "status": "completed",
        }
    )


def test_markdown_notes_missing_output_when_any_run_lacks_it_not_only_the_first() -> None:
    assert "_Output: " in _two_runs_the_second_without_output().to_markdown()


def test_an_exported_script_notes_missing_output_when_any_run_lacks_it_not_only_the_first() -> None:
    assert "# Output: " in _two_runs_the_second_without_output().to_script()


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_tool_entry_that_is_not_the_interpreter_takes_no_run_number(mode: str) -> None:
    def frame(i: int, finish: str = "null") -> str:
        tools = [
            {"type": "web_search", "web_search": {}},
            {"type": "code_interpreter", "code_interpreter": {"code": "6*7"}},
        ]
        body = {
            "output": {
                "choices": [{"message": {"content": "42" if finish == "stop" else ""}, "finish_reason": finish}],
                "tool_info": tools,
            },
            "usage": {"total_tokens": 3, "output_tokens": 1, "input_tokens": 2},
            "request_id": "rid",
        }
        return f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(body)}\n\n"

    result = await run(mode, Script(lambda: sse_response(frame(1) + frame(2, "stop"))))
    assert [(r.index, r.code) for r in result.code_runs] == [(0, "6*7")]


@pytest.mark.parametrize("mode", MODES)
async def test_a_reply_that_is_not_json_is_quoted_up_to_200_characters(mode: str) -> None:
    body = ("y" * 199 + "Z" + "w" * 100).encode()
    reply = httpx.Response(502, headers={"content-type": "text/plain"}, content=body)
    with pytest.raises(InternalServerError) as info:
        await run(mode, Script(reply), max_retries=0)
    assert repr("y" * 199 + "Z") in str(info.value)


def test_a_secret_is_masked_at_every_occurrence_not_only_the_first() -> None:
    assert Secret(PLANTED_KEY).redact(f"{PLANTED_KEY} and again {PLANTED_KEY}") == "********** and again **********"
