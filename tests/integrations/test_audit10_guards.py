"""Behaviours audit 10 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import pytest

from integrations.langchain import CodeInterpreterRunnable
from qwen_ci_tool import ConfigurationError

from ..conftest import PLANTED_KEY


@pytest.mark.parametrize("question", ["", "   "], ids=["empty", "blank"])
async def test_an_empty_question_string_is_refused_as_an_empty_question_not_as_an_empty_message_list(
    question: str,
) -> None:
    runnable = CodeInterpreterRunnable(api_key=PLANTED_KEY, base_url="http://127.0.0.1:9")  # never reached
    with pytest.raises(ConfigurationError, match=r"^The question is empty: ask something"):
        runnable.invoke(question)
    with pytest.raises(ConfigurationError, match=r"^The question is empty: ask something"):
        await runnable.ainvoke(question)
