"""The live suite: the real service, when a key is at hand (`make live-test`).

Each call saves its raw stream (the body only: no headers, no key) under ``RECORD_DIR`` with the
result it gave, so a live run becomes a regression fixture the emulator replays
(``tests/core/test_fixtures.py``). Run against the emulator in ``test_suite_against_emulator.py``.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from qwen_ci_tool import AuthenticationError, CodeInterpreter, CodeInterpreterResult
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION

from ._live import (
    LIVE_KEY,
    LIVE_MULTIMODAL_MODEL,
    LIVE_OPTED_IN,
    NOT_OPTED_IN_REASON,
    SKIP_REASON,
    digits,
    live_settings,
    save_recording,
)

if not LIVE_OPTED_IN:
    pytest.skip(NOT_OPTED_IN_REASON, allow_module_level=True)
if not LIVE_KEY:
    pytest.skip(SKIP_REASON, allow_module_level=True)

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]


def ask(name: str, question: str, **overrides: Any) -> tuple[CodeInterpreterResult, CodeInterpreter]:
    settings = live_settings(**overrides)
    stream = io.BytesIO()
    with CodeInterpreter(**settings) as ci:
        result = ci.run(question, record=stream)
    path = save_recording(name, stream.getvalue(), question, settings, result)
    assert LIVE_KEY.encode() not in path.read_bytes() + path.with_suffix(".json").read_bytes(), (
        "recordings are key-free"
    )
    return result, ci


@pytest.mark.parametrize("protocol", ["dashscope", "openai", "responses"])
def test_the_seed_question_is_answered_over_each_protocol(protocol: str) -> None:
    result, _ = ask(f"live_seed_{protocol}", SEED_QUESTION, protocol=protocol)
    assert result.status == "completed" and result.finish_reason == "stop"
    assert SEED_ANSWER in digits(result.answer)
    assert result.request_id
    assert result.usage.total_tokens > 0 and result.usage.output_tokens > 0
    if protocol == "openai":
        assert result.code_runs == () and not result.code_returned  # this protocol never returns the code
    else:
        assert result.code_runs and "123" in result.code_runs[0].code
        assert result.usage.code_interpreter_calls >= 1
    if protocol == "responses":
        assert any(SEED_ANSWER in digits(run.output or "") for run in result.code_runs), "the code's output"


def test_a_qwen35_model_over_the_native_protocol_takes_the_multimodal_path() -> None:
    result, ci = ask("live_seed_multimodal", SEED_QUESTION, protocol="dashscope", model=LIVE_MULTIMODAL_MODEL)
    assert ci.settings.model_info.native_endpoint == "multimodal-generation"
    assert result.status == "completed" and SEED_ANSWER in digits(result.answer) and result.request_id


def test_a_wrong_key_is_an_authentication_error() -> None:
    with CodeInterpreter(**live_settings(api_key="sk-" + "0" * 32)) as ci:
        with pytest.raises(AuthenticationError) as caught:
            ci.run(SEED_QUESTION)
    # The key was given as api_key=: the advice names that, not the environment variable.
    assert caught.value.retryable is False and "Check the API key in the api_key= argument" in str(caught.value)
