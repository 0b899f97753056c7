"""Rules of the LangChain integration over every item, tested with two items where the second one
matters (a proactive sweep after the fourth mutation audit, issue 26)."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool.testing import Emulator

from .test_langchain_runnable import make_runnable


def test_a_message_with_a_text_block_then_an_image_is_refused_before_anything_is_sent(emulator: Emulator) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "What is in it?"}, {"type": "image", "url": "x.png"}])
    with pytest.raises(ConfigurationError, match="text only"):
        make_runnable(emulator).invoke([message])
    assert emulator.requests == []
