"""Behaviours of the LangChain integration a one-line break left unguarded (the third and fourth
mutation audits, issue 26): each test here fails when its line breaks."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import ToolException

import integrations.langchain as lc
from qwen_ci_tool import AuthenticationError, ConfigurationError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from ._helpers import make_tool, tool_call
from .test_langchain_runnable import make_runnable


def test_a_mapping_with_more_than_the_question_is_refused_before_anything_is_sent(emulator: Emulator) -> None:
    # {"question": ...} is the tool's argument shape; other keys (a prompt's variables) would be
    # dropped silently, so the Runnable says what it takes instead.
    with pytest.raises(ConfigurationError, match="Pass a question string"):
        make_runnable(emulator).invoke({"question": SEED_QUESTION, "context": "the data"})
    assert emulator.requests == []


def test_a_changed_setting_takes_effect_on_the_next_call(emulator: Emulator) -> None:
    # Calls reuse one core client for their connections; a setting changed since makes a new one.
    runnable = make_runnable(emulator, model="qwen3-max-preview")
    runnable.invoke(SEED_QUESTION)
    runnable.model = "qwen3-max"
    runnable.invoke(SEED_QUESTION)
    assert [r.json["model"] for r in emulator.requests] == ["qwen3-max-preview", "qwen3-max"]


def test_the_key_anywhere_in_an_error_message_is_masked_not_only_at_its_start() -> None:
    # Belt and braces: the core never puts the key in a message, but if it did, the agent must not see it.
    text = lc.error_message(AuthenticationError(f"the key {PLANTED_KEY} was refused", status_code=401), PLANTED_KEY)
    assert PLANTED_KEY not in text and "the key ********** was refused" in text


def test_a_message_of_text_content_blocks_is_sent_as_its_text(emulator: Emulator) -> None:
    message = HumanMessage(content=[{"type": "text", "text": SEED_QUESTION}])
    make_runnable(emulator).invoke([message])
    assert [m["content"] for m in emulator.requests[0].json["input"]["messages"]] == [SEED_QUESTION]


def test_a_success_message_the_applications_error_handler_builds_is_returned_as_it_built_it(
    emulator: Emulator,
) -> None:
    # The partial result goes into the error ToolMessage LangChain builds; a handler that answers
    # with its own success message decided what the agent gets, and it is left alone.
    def handled(err: ToolException) -> ToolMessage:
        return ToolMessage("handled by the application", tool_call_id="call_1")

    emulator.add_fault(Fault.drop(after_events=50))
    message = make_tool(emulator, handle_tool_error=handled).invoke(tool_call(SEED_QUESTION))
    assert message.content == "handled by the application" and message.status == "success"
    assert message.artifact is None
