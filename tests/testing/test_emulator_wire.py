"""What the emulator sends, as the wire catalogue holds it (tests/emulator_wire.py says how to change it)."""

from __future__ import annotations

import difflib
import re

import pytest

from qwen_ci_tool.testing import FAULT_NAMES, Fault

from ..emulator_wire import KEY, PATH, STREAM_FAULTS, Answered, Normaliser, escape, render

#: The catalogue's sections, in order.
SECTIONS = (
    "Conversations on every endpoint",
    "Refusals of bad requests",
    "Workspace hosts",
    "Faults that answer instead of a stream",
    "Faults in the stream",
    "Named faults",
    "Throttling",
    "Replays",
)


def test_the_emulator_sends_what_the_wire_catalogue_holds() -> None:
    expected, actual = PATH.read_text(encoding="utf-8"), render()
    if expected != actual:
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "tests/data/emulator_wire.txt", "now", lineterm="", n=1
        )
        shown = "\n".join(line[:2000] for line in list(diff)[:120])
        pytest.fail(
            "What the emulator sends changed. If the change is meant, run `python -m tests.emulator_wire --write` "
            f"and review the diff of tests/data/emulator_wire.txt; otherwise the emulator broke:\n{shown}"
        )


def test_the_catalogue_never_shows_the_key_and_stays_small() -> None:
    text = PATH.read_text(encoding="utf-8")
    assert KEY not in text
    assert len(text.encode()) < 1_000_000
    assert [line[3:] for line in text.splitlines() if line.startswith("== ")] == list(SECTIONS)


def test_the_catalogue_names_every_fault_kind_and_every_named_fault() -> None:
    text = PATH.read_text(encoding="utf-8")
    # Every public constructor (typing.get_type_hints(Fault) cannot see the kinds: Fault reports the
    # package as its module, whose namespace has no FaultKind).
    needs = {"status": (500,), "chunks": ([1],)}
    makers = [n for n, v in vars(Fault).items() if isinstance(v, classmethod) and n != "named"]
    kinds = {getattr(Fault, n)(*needs.get(n, ())).kind for n in makers}
    assert len(makers) >= 17 and len(kinds) >= 16
    shown = {fault.kind for fault, _ in STREAM_FAULTS} | {"status", "content_type", "empty_body"}
    assert sorted(kinds - shown) == []
    for kind in kinds:
        assert f"kind={kind!r}" in text, kind
    for name in FAULT_NAMES:
        assert re.search(rf"^{re.escape(name)}: Fault\(", text, re.MULTILINE), name


def test_a_fresh_id_seen_twice_fails_the_rendering() -> None:
    norm = Normaliser()
    rid = "1b4e28ba-2fa1-41d2-883f-0016d3bca5f1"
    answer = Answered("HTTP/1.1 200 OK", [("x-request-id", rid)], b'{"request_id":"%s"}' % rid.encode(), "complete")
    first = norm(answer, 0.0, 0.0)
    assert first.headers == [("x-request-id", "<id-1>")] and first.body == b'{"request_id":"<id-1>"}'
    with pytest.raises(AssertionError, match="two answers"):
        norm(answer, 0.0, 0.0)


def test_only_a_stamp_of_the_request_time_is_normalised() -> None:
    norm = Normaliser()
    body = b'{"created":1000,"created_at":1761899651}'
    answer = norm(Answered("HTTP/1.1 200 OK", [], body, "complete"), 1000.2, 1000.9)
    assert answer.body == b'{"created":<now>,"created_at":1761899651}'


def test_escape_spells_out_line_endings_and_bytes_that_are_not_text() -> None:
    assert escape(b"a\r\nb\rc\n\\\t\x00\xff\xe2\x9c\x93") == "a\\r\\nb\\rc\\n\\\\\\t\\x00\\xff\u2713"
