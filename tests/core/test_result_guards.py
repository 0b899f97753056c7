"""Small promises of the result type, the secret, the errors and the span, each pinned by a test that
fails when its line breaks."""

from __future__ import annotations

import pytest

from qwen_ci_tool import CodeInterpreterResult, Completed, InternalServerError, Secret
from qwen_ci_tool._telemetry import output_messages
from tests.otel import Otel

from ._frames import native_stream, responses_stream
from ._mock import MODES, clients, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_result_of_an_unknown_protocol_is_taken_to_carry_its_code() -> None:
    # A dict saved by another version (or without a protocol) must not claim the code is missing.
    for protocol in ("", "some-future-protocol"):
        assert CodeInterpreterResult.from_dict({"answer": "42", "protocol": protocol}).code_returned is True


def test_a_result_dict_without_a_status_reads_back_as_incomplete() -> None:
    assert CodeInterpreterResult.from_dict({"answer": "42"}).status == "incomplete"


async def test_a_result_as_text_is_its_answer() -> None:
    result = await run("sync", lambda r: sse_response(native_stream()))
    assert str(result) == result.answer and result.reasoning and result.answer != result.reasoning


def test_secrets_are_equal_only_with_the_same_value() -> None:
    assert Secret("sk-one") == Secret("sk-one")
    assert Secret("sk-one") != Secret("sk-two")
    assert Secret("sk-one") != "sk-one"


def test_an_empty_secret_redacts_nothing() -> None:
    assert Secret("").redact("nothing to hide") == "nothing to hide"
    assert Secret("sk-one").redact("key sk-one here") == "key ********** here"


def test_an_error_names_its_request_id_once() -> None:
    err = InternalServerError("Request r-77 failed.", status_code=500, request_id="r-77")
    assert str(err).count("r-77") == 1
    other = InternalServerError("It failed.", status_code=500, request_id="r-78")
    assert str(other).endswith("(request id: r-78)")


async def test_the_output_messages_hold_a_tool_response_only_where_the_protocol_returned_output() -> None:
    native = await run("sync", lambda r: sse_response(native_stream()))
    kinds = [p["type"] for p in output_messages(native)[0]["parts"]]
    assert kinds == ["reasoning", "server_tool_call", "text"]
    responses = await run("sync", lambda r: sse_response(responses_stream()), protocol="responses")
    parts = output_messages(responses)[0]["parts"]
    assert [p["type"] for p in parts] == ["reasoning", "server_tool_call", "server_tool_call_response", "text"]
    assert parts[2]["server_tool_call_response"]["output"] == "42\n"


@pytest.mark.parametrize("mode", MODES)
async def test_leaving_a_stream_after_its_completed_event_is_no_failure_on_the_span(mode: str, otel: Otel) -> None:
    sync, asyn = clients(lambda r: sse_response(native_stream()))
    if mode == "sync":
        with sync, sync.stream("q") as stream:
            for event in stream:
                if isinstance(event, Completed):
                    break
    else:
        async with asyn, asyn.stream("q") as astream:
            async for event in astream:
                if isinstance(event, Completed):
                    break
    attrs = dict(otel.call_span().attributes or {})
    assert "error.type" not in attrs and attrs["qwen_ci.status"] == "completed"
    assert dict(otel.histograms()["gen_ai.client.operation.duration"][0].attributes).get("error.type") is None


def test_an_exported_script_leaves_a_last_expression_hidden_by_a_semicolon_as_it_came() -> None:
    # A notebook cell (and the sandbox) shows nothing for `x;`: the script must not print it either.
    code = "x = 2\nx;"
    result = CodeInterpreterResult.from_dict(
        {
            "answer": "done",
            "code_runs": [{"index": 0, "code": code, "output": ""}],
            "steps": [{"kind": "code", "text": code, "code_run": 0}],
            "protocol": "responses",
            "status": "completed",
        }
    )
    script = result.to_script()
    assert "\nx;\n" in script and "_show(" not in script
    compile(script, "<exported>", "exec")
