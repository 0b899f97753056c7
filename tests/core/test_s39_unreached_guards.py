"""Paths no core test took (a coverage run over tests/core, tests/testing and tests/integrations, issue 26)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_ci_tool import AnswerDelta, AuthenticationError, CodeInterpreter, ReasoningDelta
from qwen_ci_tool.testing import Emulator

from ._frames import native_frame, native_output_frame
from ._mock import MODES, Script, events, run, sse_response


@pytest.mark.parametrize("mode", MODES)
async def test_an_exception_that_is_a_bug_not_a_failure_reaches_the_caller_as_itself_and_is_not_retried(
    mode: str,
) -> None:
    # `translate` returns None for it and `after_failure` re-raises it: never wrapped in our error tree (which
    # would hide the bug as a service failure), never retried (which would bill a bug again).
    bug = LookupError("a bug in a custom transport")
    script = Script(bug, lambda: sse_response(native_frame(1, content="ok", finish="stop")))
    with pytest.raises(LookupError) as info:
        await run(mode, script, max_retries=2)
    assert info.value is bug and len(script.requests) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_native_frames_without_a_message_or_without_choices_are_read_for_what_they_hold(mode: str) -> None:
    # Frames the decoder must take apart without a message: code alone (no choices), a finish reason alone
    # (a choice without a message), a message whose content is empty, then the answer.
    tool = [{"code_interpreter": {"code": "1+1"}, "type": "code_interpreter"}]
    frames = (
        native_frame(1, reasoning="think")
        + native_output_frame(2, {"tool_info": tool})
        + native_output_frame(
            3, {"choices": [{"message": {"content": "", "role": "assistant"}, "finish_reason": "null"}]}
        )
        + native_output_frame(
            4, {"choices": [{"message": {"content": "2", "role": "assistant"}, "finish_reason": "null"}]}
        )
        + native_output_frame(5, {"choices": [{"finish_reason": "stop"}]})
    )
    result = await run(mode, Script(lambda: sse_response(frames, size=5)))
    assert result.status == "completed" and result.finish_reason == "stop"
    assert [run.code for run in result.code_runs] == ["1+1"]
    assert result.answer == "2" and result.reasoning == "think"
    assert result.usage.total_tokens == 15
    # A frame with nothing new says nothing: no empty delta reaches a stream's reader.
    seen = await events(mode, Script(lambda: sse_response(frames, size=5)))
    assert [e.text for e in seen if isinstance(e, (AnswerDelta, ReasoningDelta))] == ["think", "2"]


def test_a_key_read_from_the_key_file_is_what_a_refusal_tells_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-a-file\n", encoding="utf-8")
    monkeypatch.setenv("DASHSCOPE_API_KEY_FILE_PATH", str(key_file))
    with Emulator(api_key="sk-another") as emu, CodeInterpreter(base_url=emu.base_url) as ci:
        with pytest.raises(AuthenticationError) as info:
            ci.run("hi")
    assert "Check the API key in the file that DASHSCOPE_API_KEY_FILE_PATH names." in str(info.value)
    assert "sk-from-a-file" not in str(info.value)
