"""What ``qwen_ci_tool._protocols._base`` promises about a frame's JSON, pinned where the mutation sweep of
issue 26 (sw-base) found a one-line break no test caught: each test fails when its line breaks."""

from __future__ import annotations

import pytest

from qwen_ci_tool import CodeInterpreter, ConfigurationError, ProtocolError

from ._frames import chat_stream, responses_stream
from ._mock import MODES, Script, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

# Each protocol whose frames are JSON objects read by the shared decoder base, with a clean stream of it.
STREAMS = [("openai", chat_stream), ("responses", responses_stream)]


async def _malformed(mode: str, data: bytes) -> str:
    """The message of the call whose stream is one frame carrying *data* (over openai)."""
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(sse_response(b"data: " + data + b"\n\n")), protocol="openai", max_retries=0)
    assert "malformed JSON" in info.value.message
    return info.value.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data", [b'{"choices": "\xff\xfe"}', b"[\xff]"], ids=["object", "array"])
async def test_a_frame_that_is_not_utf8_is_malformed_json_that_says_so_and_shows_its_start(
    mode: str, data: bytes
) -> None:
    message = await _malformed(mode, data)
    assert "(not UTF-8)" in message
    assert repr(data.decode("utf-8", "replace")) in message


@pytest.mark.parametrize("mode", MODES)
async def test_a_frame_cut_off_after_its_first_key_is_malformed_json_not_ignored(mode: str) -> None:
    message = await _malformed(mode, b'{"choices"')
    assert "Expecting ':' delimiter" in message


@pytest.mark.parametrize("mode", MODES)
async def test_an_object_followed_by_more_data_is_malformed_json_not_the_object(mode: str) -> None:
    message = await _malformed(mode, b'{"choices": []}{"choices": []}')
    assert "Extra data" in message


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_json_shows_the_first_120_bytes_of_the_frame_and_no_more(mode: str) -> None:
    data = b'{"choices": ' + b"x" * 200
    message = await _malformed(mode, data)
    assert repr(data[:120].decode()) in message
    assert repr(data[:121].decode()) not in message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("protocol", "stream"), STREAMS)
@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "42", "null"], ids=["list", "string", "number", "null"])
async def test_a_frame_whose_json_is_not_an_object_is_ignored_and_the_answer_is_whole(
    mode: str, protocol: str, stream: object, data: str
) -> None:
    frames: str = stream()  # type: ignore[operator]
    clean = await run(mode, Script(lambda: sse_response(frames)), protocol=protocol)
    odd = await run(mode, Script(lambda: sse_response(f"data: {data}\n\n" + frames)), protocol=protocol)
    assert odd.status == clean.status == "completed"
    assert (odd.answer, odd.code_runs) == (clean.answer, clean.code_runs)


def _cycle() -> dict[str, object]:
    looped: dict[str, object] = {}
    looped["self"] = looped
    return looped


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({1, 2}, "(Object of type set is not JSON serializable)"),
        (object(), "(Object of type object is not JSON serializable)"),
        (float("nan"), "(Out of range float values are not JSON compliant"),
        ("ab\udcffc", r"(a lone surrogate '\udcff')"),
        (_cycle(), "(Circular reference detected)"),
    ],
    ids=["set", "object", "nan", "lone-surrogate", "cycle"],
)
def test_extra_parameters_that_cannot_be_sent_as_json_are_refused_when_the_client_is_made(
    value: object, why: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        CodeInterpreter(api_key="sk-test", extra_parameters={"user": value})
    assert info.value.message.startswith(f"extra_parameters cannot be sent as JSON {why}")
    assert "Give text, numbers, booleans, None, lists and dicts." in info.value.message


def test_extra_parameters_from_the_environment_with_nan_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_CI_EXTRA_PARAMETERS", '{"seed": NaN}')
    with pytest.raises(ConfigurationError, match="extra_parameters cannot be sent as JSON"):
        CodeInterpreter(api_key="sk-test")
