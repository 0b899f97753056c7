"""One wording of each failure, with each surface's own knobs: hints name settings by placeholder
and every surface (Python, CLI, MCP server, LangChain tool) renders them its own way."""

from __future__ import annotations

import pytest

from integrations._langchain_fold import LANGCHAIN
from mcp_server._texts import MCP
from qwen_ci_tool import (
    APITimeoutError,
    AuthenticationError,
    CodeInterpreterResult,
    ConfigurationError,
    RateLimitError,
    StreamInterruptedError,
)
from qwen_ci_tool._errors import ErrorContext, missing_key_error, status_error, timeout_error
from qwen_ci_tool._explain import error_dict, for_agent, retry_advice
from qwen_ci_tool._knobs import PYTHON, Knobs
from qwen_ci_tool.cli.common import for_person
from qwen_ci_tool.cli.flags import CLI

BEIJING = "https://dashscope.aliyuncs.com"
SINGAPORE = "https://dashscope-intl.aliyuncs.com"


def ctx(base_url: str = BEIJING, *, custom: bool = False) -> ErrorContext:
    return ErrorContext(base_url=base_url, model="qwen3-max", protocol="dashscope", custom_base_url=custom)


@pytest.mark.parametrize(
    ("knobs", "fix"),
    [
        (PYTHON, "region='singapore'"),
        (CLI, "--region singapore"),
        (MCP, "the server argument --region singapore"),
        (LANGCHAIN, "region='singapore'"),
    ],
)
def test_a_401_at_the_default_root_names_the_other_region_in_each_surfaces_terms(knobs: Knobs, fix: str) -> None:
    err = status_error(401, "InvalidApiKey", "Invalid API-key provided.", context=ctx())
    assert fix in err.describe(knobs)


def test_a_401_with_a_custom_base_url_never_suggests_the_region_it_overrides() -> None:
    err = status_error(401, "InvalidApiKey", "bad key", context=ctx("http://127.0.0.1:9999", custom=True))
    for knobs in (PYTHON, CLI, MCP, LANGCHAIN):
        advice = err.advice(knobs) or ""
        assert "region=" not in advice and "--region" not in advice and "singapore" not in advice.lower()
    assert "--base-url" in err.describe(CLI)


def test_a_401_at_a_chosen_region_root_names_the_other_root_as_base_url() -> None:
    err = status_error(401, "InvalidApiKey", "bad key", context=ctx(BEIJING, custom=True))
    assert f"--base-url {SINGAPORE}" in err.describe(CLI)
    assert "--region" not in err.describe(CLI)


def test_where_the_key_goes_is_each_surfaces_own() -> None:
    err = missing_key_error()
    assert "api_key=" in err.describe(PYTHON) and "qwen_ci_tool.testing.Emulator" in err.describe(PYTHON)
    assert "environment variable" in err.describe(CLI) and "--emulator" in err.describe(CLI)
    assert '"env" block' in err.describe(MCP)
    assert "api_key=" in err.describe(LANGCHAIN)
    for knobs in (MCP, LANGCHAIN):  # neither has an emulator switch
        assert "emulator" not in err.describe(knobs)
    assert "--" not in err.describe(LANGCHAIN) and "api_key=" not in err.describe(MCP)


def test_timeouts_name_the_limit_to_raise() -> None:
    err = timeout_error("idle", base_url=BEIJING, seconds=0.5)
    assert err.retryable and err.kind == "idle"
    assert "0.5 s" in err.message
    assert "idle_timeout" in err.describe(PYTHON) and "--idle-timeout" in err.describe(CLI)


def test_a_model_name_with_braces_cannot_break_a_hint() -> None:
    odd = ErrorContext(base_url=BEIJING, model="my{model}", protocol="dashscope")
    err = status_error(404, "Model.NotExist", "no such model", context=odd)
    assert "'my{model}'" in err.describe(CLI) and "--model" in err.describe(CLI)


def test_permanent_failures_never_invite_a_retry_and_transient_ones_say_to_wait() -> None:
    permanent = [
        status_error(400, "InvalidParameter", "bad"),
        status_error(404, "Model.NotExist", "no model"),
        status_error(429, "insufficient_quota", "quota"),
        ConfigurationError("x"),
    ]
    for err in permanent:
        text = for_agent(err, MCP, tool="t")
        assert "will not help" in text and "may work" not in text and "transient" not in text
    throttled = status_error(429, "Throttling", "slow down", retry_after=3)
    assert "wait 3 s" in retry_advice(throttled) and "tight loop" in retry_advice(throttled)
    for err in (
        status_error(500, "InternalError", "boom"),
        StreamInterruptedError("x"),
        APITimeoutError("x", kind="idle"),
    ):
        assert "wait a few seconds" in retry_advice(err)


def test_the_agent_text_keeps_the_partial_and_says_it_is_unverified() -> None:
    partial = CodeInterpreterResult.from_dict(
        {"answer": "123 to the power of 21 is:", "code_runs": [{"index": 0, "code": "123**21"}], "status": "incomplete"}
    )
    err = StreamInterruptedError("The connection broke.", hint="Retry for a full answer.", partial=partial)
    text = for_agent(err, LANGCHAIN, tool="qwen_code_interpreter")
    assert "do not present it as a verified answer" in text and "123**21" in text
    assert text.index("Calling again:") < text.index("What arrived before the failure")


def test_a_person_hears_whether_trying_again_may_help() -> None:
    assert "trying again in a moment may work" in for_person(StreamInterruptedError("x"), CLI)
    assert "trying again" not in for_person(AuthenticationError("x", status_code=401), CLI)


def test_the_error_as_data_says_whether_it_is_retryable() -> None:
    data = error_dict(status_error(429, "insufficient_quota", "no quota", request_id="rid-1"), CLI)
    assert data == {
        "type": "RateLimitError",
        "message": data["message"],
        "request_id": "rid-1",
        "retryable": False,
        "status_code": 429,
        "code": "insufficient_quota",
    }
    assert isinstance(status_error(429, "Throttling", "x"), RateLimitError)
