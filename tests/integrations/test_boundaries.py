"""Rules of the LangChain integration over every item, tested with two items where the second one
matters (a proactive sweep after the fourth mutation audit, issue 26)."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

import integrations.langchain as lc
from qwen_ci_tool import AuthenticationError, ConfigurationError
from qwen_ci_tool.testing import Emulator

from ..conftest import PLANTED_KEY
from .test_langchain_runnable import make_runnable


def test_a_message_with_a_text_block_then_an_image_is_refused_before_anything_is_sent(emulator: Emulator) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "What is in it?"}, {"type": "image", "url": "x.png"}])
    with pytest.raises(ConfigurationError, match="text only"):
        make_runnable(emulator).invoke([message])
    assert emulator.requests == []


def test_the_key_is_masked_at_every_occurrence_in_an_error_message() -> None:
    err = AuthenticationError(f"the key {PLANTED_KEY} was refused; {PLANTED_KEY} is not valid", status_code=401)
    text = lc.error_message(err, PLANTED_KEY)
    assert PLANTED_KEY not in text and text.count("**********") >= 2
