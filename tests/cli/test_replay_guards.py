"""``qwen-ci replay``: which protocol a recorded stream is read as, from its framing alone, and what a file
that is no recording is told (guards from the mutation sweep, issue 26)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.replay import protocol_of


@pytest.mark.parametrize(
    ("stream", "protocol"),
    [
        (b"event:response.created\ndata:{}\n\n", "responses"),  # the event line alone
        (b'data:{"type":"response.created"}\n\n', "responses"),  # compact JSON alone
        (b'data: {"type": "response.created"}\n\n', "responses"),  # spaced JSON alone
        (b'data: {"object":"chat.completion.chunk"}\n\n', "openai"),
        (b'data:{"output":{"choices":[]}}\n\n', "dashscope"),
    ],
    ids=["event-line", "compact-type", "spaced-type", "chat-chunk", "native"],
)
def test_a_recorded_stream_is_read_as_the_protocol_its_framing_shows(stream: bytes, protocol: str) -> None:
    assert protocol_of(stream) == protocol


def test_a_file_that_is_no_event_stream_is_told_how_to_record_one(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n")
    err = io.StringIO()
    code = main(["replay", str(notes)], stdout=io.StringIO(), stderr=err)
    assert code == 2
    assert f"{notes} holds no server-sent events (no 'data:' line)" in err.getvalue()
    assert "it is not a stream saved by `qwen-ci ask --record FILE`. Record one with that command, then replay it." in (
        err.getvalue()
    )
