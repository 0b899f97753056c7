from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_ci_tool import ProtocolError
from qwen_ci_tool._sse import SSEParser

from ._frames import native_stream


def parse(data: bytes, cuts: list[int] | None = None) -> list[tuple[str, bytes, str | None, int | None]]:
    parser = SSEParser()
    pieces = [data] if cuts is None else [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=False)]
    events = [e for piece in pieces for e in parser.feed(piece)] + parser.close()
    return [(e.event, e.data, e.id, e.status) for e in events]


def test_native_frames_parse_with_id_event_and_the_status_comment_ignored_when_200() -> None:
    events = parse(native_stream().encode())
    assert len(events) == 8
    assert events[0][0] == "result" and events[0][2] == "1" and events[0][3] is None
    assert events[0][1].startswith(b'{"output":')


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_crlf_and_cr_line_endings_parse_like_lf(ending: str) -> None:
    lf = native_stream()
    assert parse(lf.replace("\n", ending).encode()) == parse(lf.encode())


def test_a_cut_between_cr_and_lf_does_not_create_an_empty_line() -> None:
    data = b"data:a\r\ndata:b\r\n\r\n"
    for i in range(1, len(data)):
        assert parse(data, [i]) == [("", b"a\nb", None, None)], i


def test_a_cut_inside_a_utf8_character_keeps_the_character() -> None:
    data = 'data:{"t":"✓é"}\n\n'.encode()
    for i in range(1, len(data)):
        assert parse(data, [i]) == [("", '{"t":"✓é"}'.encode(), None, None)]


def test_error_status_is_read_from_the_comment_and_from_a_status_field() -> None:
    frame = b'id:9\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling"}\n\n'
    assert parse(frame)[0][:2] == ("error", b'{"code":"Throttling"}') and parse(frame)[0][3] == 429
    spaced = b'event: error\nstatus: 503\ndata: {"code":"x"}\n\n'
    assert parse(spaced)[0] == ("error", b'{"code":"x"}', None, 503)


def test_keepalive_comments_and_unknown_fields_are_ignored() -> None:
    data = b": keep-alive\n\nfoo:bar\nretry:100\ndata:1\n\n:ping\n\n"
    assert parse(data) == [("", b"1", None, None)]


def test_a_last_frame_without_its_blank_line_is_still_dispatched_at_close() -> None:
    assert parse(b"data:1\n\ndata:2") == [("", b"1", None, None), ("", b"2", None, None)]


def test_a_line_over_the_limit_is_a_protocol_error_not_unbounded_memory() -> None:
    parser = SSEParser(max_line_bytes=1000)
    parser.feed(b"data:" + b"x" * 900)
    with pytest.raises(ProtocolError, match="longer than 1000 bytes"):
        parser.feed(b"y" * 200)


def test_a_10_megabyte_data_line_parses() -> None:
    payload = b"x" * (10 * 1024 * 1024)
    parser = SSEParser()
    events = []
    for i in range(0, len(payload), 65536):
        events += parser.feed((b"data:" if i == 0 else b"") + payload[i : i + 65536])
    events += parser.feed(b"\n\n")
    assert len(events) == 1 and len(events[0].data) == len(payload)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=4000), max_size=40), st.sampled_from(["\n", "\r\n", "\r"]))
def test_any_chunking_of_a_valid_stream_parses_like_one_chunk(cuts: list[int], ending: str) -> None:
    data = native_stream().replace("\n", ending).encode()
    points = sorted({c % len(data) for c in cuts} - {0})
    assert parse(data, points) == parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_outside_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse(data, [len(data) // 3, 2 * len(data) // 3] if len(data) > 3 else None)


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (b"data:last", [("", b"last", None, None)]),  # the last line has no line break at all
        (b"data:last\r", [("", b"last", None, None)]),  # ends in a bare CR: no LF will follow
        (b"data:last\n", [("", b"last", None, None)]),  # the blank line is missing
        (b"event:error\n:HTTP_STATUS/400\ndata:{}", [("error", b"{}", None, 400)]),
        (b"data:done\n\n", []),  # already dispatched by feed(): close() adds nothing
        (b": keep-alive", []),
    ],
)
def test_close_ends_the_last_line_and_the_last_event_once(
    tail: bytes, expected: list[tuple[str, bytes, str | None, int | None]]
) -> None:
    parser = SSEParser()
    fed = parser.feed(tail)
    assert [(e.event, e.data, e.id, e.status) for e in parser.close()] == expected
    assert parser.close() == [], "a second close() finds nothing pending"
    if tail == b"data:done\n\n":
        assert [e.data for e in fed] == [b"done"]
