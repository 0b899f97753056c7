"""Behaviours of the LangChain integration a one-line break left unguarded (the third mutation
audit, issue 26): each test here fails when its line breaks."""

from __future__ import annotations

import pytest

from qwen_ci_tool import ConfigurationError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator

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
