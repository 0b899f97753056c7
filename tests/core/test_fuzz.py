"""Property-based tests over the decoding path: chunking never changes the result, no byte
sequence escapes the QwenCIError tree, and a frame broken inside its JSON never passes for the
seed's completed answer (a decoder that skipped or misread it would)."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwen_ci_tool import CodeInterpreter, QwenCIError

from ._frames import chat_stream, native_stream, responses_stream
from ._mock import SSE, Chunks

STREAMS = {"dashscope": native_stream(), "openai": chat_stream(), "responses": responses_stream()}


def result_dict(protocol: str, pieces: list[bytes]) -> dict[str, Any]:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, headers=SSE, stream=Chunks(pieces)))
    with CodeInterpreter(
        api_key="sk-test", protocol=protocol, max_retries=0, http_client=httpx.Client(transport=transport)
    ) as ci:
        data = ci.run("q").to_dict()
    del data["timings"]
    return data


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % len(data) for c in cuts} - {0})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=False)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(STREAMS)),
    st.lists(st.integers(min_value=1, max_value=10_000), max_size=60),
    st.sampled_from(["\n", "\r\n"]),
)
def test_any_chunking_of_a_valid_stream_gives_the_same_result(protocol: str, cuts: list[int], ending: str) -> None:
    data = STREAMS[protocol].replace("\n", ending).encode()
    assert result_dict(protocol, split(data, cuts)) == result_dict(protocol, [data])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(STREAMS)),
    st.binary(max_size=3000),
    st.lists(st.integers(min_value=1, max_value=3000), max_size=8),
)
def test_arbitrary_bytes_end_in_a_result_or_a_qwen_ci_error(protocol: str, data: bytes, cuts: list[int]) -> None:
    pieces = split(data, cuts) if data else []
    with contextlib.suppress(QwenCIError):
        result_dict(protocol, pieces)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(STREAMS)), st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=50))
def test_a_valid_stream_corrupted_anywhere_ends_in_a_result_or_a_qwen_ci_error(
    protocol: str, where: int, junk: bytes
) -> None:
    data = STREAMS[protocol].encode()
    at = where % len(data)
    with contextlib.suppress(QwenCIError):
        result_dict(protocol, [data[:at] + junk + data[at:]])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "output",
                    "choices",
                    "message",
                    "content",
                    "reasoning_content",
                    "tool_info",
                    "code_interpreter",
                    "code",
                    "usage",
                    "finish_reason",
                    "delta",
                    "type",
                    "item",
                    "response",
                    "error",
                    "status",
                    "id",
                    "outputs",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(STREAMS)), st.lists(_json, min_size=1, max_size=4))
def test_frames_of_any_json_shape_end_in_a_result_or_a_qwen_ci_error(protocol: str, values: list[Any]) -> None:
    import json

    body = "".join(f"data:{json.dumps(v)}\n\n" for v in values).encode()
    try:
        data = result_dict(protocol, [body])
    except QwenCIError:
        return
    # Whatever the frames held, a result that comes back is well typed.
    assert isinstance(data["answer"], str) and isinstance(data["reasoning"], str)
    assert all(isinstance(v, int) for v in data["usage"].values())
    assert data["finish_reason"] is None or isinstance(data["finish_reason"], str)
    for run in data["code_runs"]:
        assert isinstance(run["code"], str) and (run["output"] is None or isinstance(run["output"], str))
        assert run["container_id"] is None or isinstance(run["container_id"], str)
    assert all(isinstance(step["text"], str) for step in data["steps"])


def payload_spans(data: bytes) -> list[tuple[int, int]]:
    """Where each ``data:`` line's payload starts and ends in *data*."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in data.split(b"\n"):
        if line.startswith(b"data:"):
            spans.append((pos + 5 + (line[5:6] == b" "), pos + len(line)))
        pos += len(line) + 1
    return spans


# Bytes on the same line (no line break), and a control character no JSON text may hold unescaped,
# inside a string or out: a payload that gets one is broken, wherever it lands.
_SAME_LINE = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
_CONTROL = st.integers(min_value=0, max_value=31).filter(lambda b: b not in (9, 10, 13)).map(lambda b: bytes([b]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(STREAMS)),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=10_000),
    _SAME_LINE,
    _CONTROL,
    _SAME_LINE,
)
def test_a_frame_corrupted_inside_its_json_never_ends_as_the_seeds_completed_answer(
    protocol: str, which: int, offset: int, before: bytes, control: bytes, after: bytes
) -> None:
    data = STREAMS[protocol].encode()
    seed = result_dict(protocol, [data])
    start, end = payload_spans(data)[which % len(payload_spans(data))]
    at = start + offset % (end - start + 1)
    try:
        got = result_dict(protocol, [data[:at] + before + control + after + data[at:]])
    except QwenCIError:
        return
    # A broken frame was dropped or misread: that must never pass for the whole, completed answer.
    assert not (got["status"] == "completed" and got["answer"] == seed["answer"]), (at, got)
