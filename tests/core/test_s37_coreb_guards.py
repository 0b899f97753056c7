"""Session 37's guard sweep of the core's settings, errors, results and accumulator (issue 26): the quiet
effects the suite did not hold yet; each test fails with the one-line break its comment names."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import BadRequestError, InternalServerError, QwenCIError
from qwen_ci_tool._errors import note_attempts

from ._mock import MODES, Script, run


@pytest.mark.parametrize("mode", MODES)
async def test_a_refusal_over_an_undisputed_protocol_names_no_dispute_about_it(mode: str) -> None:
    """A model refused over a protocol the documents do not dispute (qwen3.8-max over dashscope; only
    openai is disputed for it) is told the documented protocol, and no disagreement about the one it used."""
    # Break: `if protocol in info.disputed:` -> `if info.disputed:` in protocol_hint.
    body = {
        "code": "InvalidParameter",
        "message": "The model does not support the code interpreter.",
        "request_id": "r-1",
    }
    with pytest.raises(BadRequestError) as caught:
        await run(
            mode, Script(httpx.Response(400, json=body)), protocol="dashscope", model="qwen3.8-max", max_retries=0
        )
    assert caught.value.advice() == (
        "Model 'qwen3.8-max' is documented for the code interpreter over `responses`: try protocol='responses'."
    )


@pytest.mark.usefixtures("no_backoff")
async def test_the_attempts_note_is_added_even_when_the_services_message_mentions_attempts() -> None:
    """After retries the error says how many attempts were made, also when the service's own message
    happens to contain "attempts)" (the note is recognised by where it stands: at the end)."""
    body = {"code": "InternalError", "message": "Upstream busy (too many attempts)", "request_id": "r-1"}
    script = Script(httpx.Response(500, json=body))
    with pytest.raises(InternalServerError) as caught:
        await run("sync", script, protocol="dashscope", max_retries=2)
    assert len(script.requests) == 3
    assert caught.value.message == (
        "The service returned an error (InternalError, HTTP 500): Upstream busy (too many attempts). Gave up after 3 attempts."
    )


@pytest.mark.parametrize(
    ("message", "noted"),
    [
        ("busy (too many attempts)", "busy (too many attempts). Gave up after 3 attempts."),
        (
            "Busy. Gave up after 2 attempts upstream.",
            "Busy. Gave up after 2 attempts upstream. Gave up after 3 attempts.",
        ),
        ("Busy!", "Busy! Gave up after 3 attempts."),
    ],
)
def test_the_attempts_note_is_recognised_only_as_its_own_ending_and_never_added_twice(message: str, noted: str) -> None:
    err = QwenCIError(message)
    note_attempts(err, 3)
    note_attempts(err, 3)
    assert str(err) == err.message == noted
