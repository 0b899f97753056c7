"""What a model reads about calling again after a failure (word for word where it decides what the model
does next), and how a model name is looked up in the model table: found by the mutation sweep of _knobs.py,
_explain.py and _model_table.py (issue 26) as lines no test read."""

from __future__ import annotations

import dataclasses
import io

import pytest

from mcp_server._texts import MCP
from qwen_ci_tool import (
    CodeInterpreter,
    CodeInterpreterResult,
    ConfigurationError,
    ModelInfo,
    StreamInterruptedError,
    _model_table,
    lookup_model,
)
from qwen_ci_tool._errors import status_error
from qwen_ci_tool._explain import for_agent, incomplete_for_agent, incomplete_note, retry_advice
from qwen_ci_tool.cli import main

PERMANENT = "Calling again: will not help - the same call fails the same way, so do not retry it unchanged."


def test_a_permanent_failure_for_a_model_ends_with_the_whole_do_not_retry_sentence() -> None:
    text = for_agent(status_error(400, "InvalidParameter", "bad"), MCP, tool="qwen_code_interpreter")
    assert text.endswith(f"\n\n{PERMANENT}")


def test_a_throttled_call_without_a_wait_named_by_the_service_says_to_wait_a_while() -> None:
    assert retry_advice(status_error(429, "Throttling", "slow down")) == (
        "Calling again: may work after a wait - wait a while before calling again; do not retry in a tight loop."
    )


def test_a_wait_named_by_the_service_in_fractions_of_a_second_is_rounded_up() -> None:
    advice = retry_advice(status_error(429, "Throttling", "slow down", retry_after=2.2))
    assert "wait 3 s, as the service asked, before calling again" in advice


def test_a_failure_whose_only_partial_is_a_code_run_shows_the_code_to_the_model() -> None:
    partial = CodeInterpreterResult.from_dict(
        {"answer": "", "code_runs": [{"index": 0, "code": "print(123**21)"}], "status": "incomplete"}
    )
    text = for_agent(StreamInterruptedError("The connection broke.", partial=partial), MCP, tool="t")
    assert "What arrived before the failure is below." in text and "print(123**21)" in text


def test_a_transient_failure_says_to_wait_a_few_seconds_and_that_a_new_call_is_billed_again() -> None:
    assert retry_advice(StreamInterruptedError("The connection broke.")) == (
        "Calling again: may work - this looks transient; wait a few seconds and call again "
        "(a new call starts from scratch and is billed again)."
    )


def test_a_cap_too_small_for_the_words_still_keeps_200_characters_of_what_arrived() -> None:
    partial = CodeInterpreterResult.from_dict({"answer": "x" * 5000, "status": "incomplete"})
    failed = for_agent(StreamInterruptedError("The connection broke.", partial=partial), MCP, tool="t", max_chars=50)
    assert len(failed.split("do not present it as a verified answer.\n\n", 1)[1]) == 200
    unfinished = incomplete_for_agent(partial, max_chars=50)
    assert len(unfinished) == len(incomplete_note(partial)) + 2 + 200


def test_an_unknown_model_is_looked_up_as_a_pass_through_row_of_its_own_name() -> None:
    assert lookup_model("qwen9-secret") == ModelInfo(
        "qwen9-secret",
        frozenset({"dashscope", "openai", "responses"}),
        "multimodal-generation",
        "not in the model table: sent as asked",
        known=False,
    )


@pytest.mark.parametrize("name", ["qwen3.5", "qwen3.8", "qwen3-ma"])
def test_a_name_that_stops_short_of_a_familys_prefix_is_not_in_the_table(name: str) -> None:
    assert not lookup_model(name).known


def test_an_unknown_name_of_version_3_5_exactly_takes_the_multimodal_path() -> None:
    assert lookup_model("qwen3.5").native_endpoint == "multimodal-generation"


@pytest.mark.parametrize("pattern", ["qwen3-max*", "qwen3.5-*", "qwen3.8-max*"])
def test_a_familys_own_pattern_looks_up_that_family(pattern: str) -> None:
    assert lookup_model(pattern).pattern == pattern


def test_a_row_of_the_model_table_cannot_be_changed_by_a_caller_and_can_be_a_set_member() -> None:
    row = lookup_model("qwen3-max")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.native_endpoint = "multimodal-generation"  # type: ignore[misc]
    assert lookup_model("qwen3-max").native_endpoint == "text-generation" and len({row, lookup_model("qwen3-max")}) == 1


def test_a_row_for_one_exact_name_outside_every_family_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    own = ModelInfo("llama-coder", frozenset({"openai"}), "text-generation", "a row of its own")
    monkeypatch.setattr(_model_table, "MODELS", (*_model_table.MODELS, own))
    assert lookup_model("llama-coder") is own


def test_a_python_client_without_a_key_says_where_the_key_goes_and_how_to_try_without_one() -> None:
    with CodeInterpreter() as ci, pytest.raises(ConfigurationError) as caught:
        ci.run("What is 2 + 2?")
    assert str(caught.value) == (
        "No API key. Set DASHSCOPE_API_KEY (or pass api_key=) to a Model Studio key. "
        "To try it without a key, point base_url at the local emulator (qwen_ci_tool.testing.Emulator)."
    )


def test_qwen_ci_models_says_in_one_line_each_what_the_documents_disagree_about_and_for_which_rows() -> None:
    out = io.StringIO()
    assert main(["models"], stdout=out) == 0
    assert out.getvalue().split("Where the vendor's documents disagree:\n", 1)[1].split("\n\n", 1)[0].splitlines() == [
        "  qwen3.5-flash*, qwen3.5-*, qwen3.6-plus*: the Qwen Cloud page shows all three protocols; "
        "other versions of the pages: responses only.",
        "  qwen3.7-plus*: the vendor's English page (2026) calls qwen3.7-plus over openai and dashscope "
        "(MultiModalConversation); other versions of the pages: responses only.",
        "  qwen3.8-max: the newest code-interpreter page lists the Qwen3.8-Max series for responses only, "
        "but its own example sends qwen3.8-max over openai.",
    ]


def test_two_settings_side_by_side_are_led_once_by_a_face_that_leads_every_setting() -> None:
    from qwen_ci_tool._knobs import Knobs, flag

    knobs = Knobs(
        "KEY",
        setting=lambda name, value="": f"the server argument {flag(name, value)}",
        lead=(
            "the server argument ",
            "the server arguments ",
        ),
    )
    assert (
        knobs.render("{model} and {protocol} choose them") == "the server arguments --model and --protocol choose them"
    )
    assert knobs.render("Use {protocol:responses} or {protocol:openai}.") == (
        "Use the server argument --protocol responses or --protocol openai."
    )
    assert knobs.render("raise {idle_timeout}, or lower {max_retries}") == (
        "raise the server argument --idle-timeout, or lower the server argument --max-retries"
    )
