"""The emulator serves the vendor's published conversations byte for byte, on every endpoint."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwen_ci_tool.testing import (
    SEED_ANSWER,
    SEED_QUESTION,
    TWO_RUN_QUESTION,
    Answer,
    Conversation,
    Delta,
    Emulator,
    Reasoning,
    emulator_stream_path,
)

from ._requests import CHAT, HEADERS, MULTIMODAL, RESPONSES, TEXT_GENERATION, chat_body, native_body, responses_body

ROOT = Path(__file__).resolve().parent.parent.parent
# The vendor's documentation page itself (the seed's copy). CI puts the shared material beside
# the clone (../shared, read-only); without it, the byte-for-byte checks against the page skip.
VENDOR_PAGE = ROOT.parent / "shared" / "seed" / "code-interpreter-doc.txt"


# The requests that produced each shipped emulator-made stream (the emulator's own output).
EMULATOR_MADE_REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "native_seed": (TEXT_GENERATION, native_body(SEED_QUESTION)),
    "native_two_runs": (TEXT_GENERATION, native_body(TWO_RUN_QUESTION)),
    "multimodal_seed": (MULTIMODAL, native_body(SEED_QUESTION, "qwen3.5-plus", parts=True)),
    "openai_seed": (CHAT, chat_body(SEED_QUESTION, include_usage=True)),
    "responses_seed": (RESPONSES, responses_body(SEED_QUESTION)),
}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def post(emu: Emulator, path: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client:
        response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response


def blocks(data: bytes) -> list[bytes]:
    """SSE events of a stream, each with its terminating blank line."""
    return [b + b"\n\n" for b in data.split(b"\n\n") if b]


def page_frames(start: bytes) -> list[bytes]:
    """The SSE frames the vendor page prints whose first line starts with ``start``, as served
    (each ending in its blank line). The page puts notes such as "...Thinking stage..." between
    frames; those are not frames."""
    if not VENDOR_PAGE.is_file():
        pytest.skip(f"the vendor page is not beside this clone ({VENDOR_PAGE}): nothing to compare with")
    frames: list[bytes] = []
    current: list[bytes] | None = None
    for line in VENDOR_PAGE.read_bytes().split(b"\n"):
        if current is None and line.startswith(start):
            current = []
        if current is not None:
            if line:
                current.append(line)
            else:
                frames.append(b"\n".join(current) + b"\n\n")
                current = None
    if current:
        frames.append(b"\n".join(current) + b"\n\n")
    return frames


def native_payloads(data: bytes) -> list[dict[str, Any]]:
    out = []
    for block in blocks(data):
        line = next(x for x in block.split(b"\n") if x.startswith(b"data:"))
        out.append(json.loads(line[len(b"data:") :]))
    return out


def responses_events(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(b.split(b"\ndata:", 1)[1]) for b in blocks(data)]


def test_native_seed_reproduces_every_frame_the_vendor_page_shows_byte_for_byte(emu: Emulator) -> None:
    served = {
        int(b.split(b"\n", 1)[0][3:]): b for b in blocks(post(emu, TEXT_GENERATION, native_body(SEED_QUESTION)).content)
    }
    shown = page_frames(b"id:")

    assert [int(b.split(b"\n", 1)[0][3:]) for b in shown] == [1, 2, 21, 22, 23, 24, 43, 44, 53, 54]
    for frame in shown:
        assert served[int(frame.split(b"\n", 1)[0][3:])] == frame
    assert sorted(served) == list(range(1, 55))


def test_native_seed_answer_deltas_follow_the_sdk_printout(emu: Emulator) -> None:
    frames = native_payloads(post(emu, TEXT_GENERATION, native_body(SEED_QUESTION)).content)
    contents = [f["output"]["choices"][0]["message"]["content"] for f in frames]

    assert contents[43:53] == [
        "123 to the power of ",
        "21 is:\n\n",
        "772693",
        "644665",
        "498656",
        "530734",
        "733880",
        "300615",
        "222117",
        "23",
    ]
    assert "".join(contents).endswith(SEED_ANSWER)
    assert [f["output"]["choices"][0]["finish_reason"] for f in frames] == ["null"] * 53 + ["stop"]


def test_native_seed_usage_only_grows_and_counts_the_run_once_code_appears(emu: Emulator) -> None:
    frames = native_payloads(post(emu, TEXT_GENERATION, native_body(SEED_QUESTION)).content)
    usages = [f["usage"] for f in frames]

    for before, after in itertools.pairwise(usages):
        assert after["output_tokens"] >= before["output_tokens"]
        assert after["total_tokens"] == after["input_tokens"] + after["output_tokens"]
    assert ["plugins" in u for u in usages] == [False] * 21 + [True] * 33
    assert all("tool_info" not in f["output"] for f in frames[:21])


def test_openai_seed_reproduces_the_vendor_page_chunks_byte_for_byte(emu: Emulator) -> None:
    served = blocks(post(emu, CHAT, chat_body(SEED_QUESTION, include_usage=False)).content)
    shown = page_frames(b"data: ")

    assert len(shown) == 9, "the page prints the first 4 chunks and the last 5"
    assert served[:4] == shown[:4]
    assert served[-5:] == shown[-5:]


def test_openai_seed_with_include_usage_ends_with_the_printout_usage_then_done(emu: Emulator) -> None:
    served = blocks(post(emu, CHAT, chat_body(SEED_QUESTION, include_usage=True)).content)
    usage_chunk = json.loads(served[-2][len(b"data: ") :])

    assert served[-1] == b"data: [DONE]\n\n"
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 719,
        "completion_tokens": 245,
        "total_tokens": 964,
        "completion_tokens_details": {"reasoning_tokens": 153},
    }
    assert json.loads(served[-3][len(b"data: ") :])["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("name", sorted(EMULATOR_MADE_REQUESTS))
def test_each_shipped_emulator_stream_equals_what_the_emulator_serves(emu: Emulator, name: str) -> None:
    path, body = EMULATOR_MADE_REQUESTS[name]

    assert post(emu, path, body).content == emulator_stream_path(name).read_bytes()


def test_the_shipped_emulator_streams_are_exactly_the_ones_the_tests_regenerate() -> None:
    shipped = {p.stem for p in emulator_stream_path("native_seed").parent.glob("*.sse")}

    assert shipped == set(EMULATOR_MADE_REQUESTS)


def test_emulator_stream_path_names_the_shipped_streams_when_asked_for_a_missing_one() -> None:
    with pytest.raises(FileNotFoundError, match="native_seed"):
        emulator_stream_path("nope")


def test_two_run_stream_grows_tool_info_through_an_empty_placeholder(emu: Emulator) -> None:
    frames = native_payloads(post(emu, TEXT_GENERATION, native_body(TWO_RUN_QUESTION)).content)
    snapshots: list[list[str]] = []
    for frame in frames:
        codes = [t["code_interpreter"]["code"] for t in frame["output"].get("tool_info", [])]
        if codes and (not snapshots or snapshots[-1] != codes):
            snapshots.append(codes)
    answer = "".join(f["output"]["choices"][0]["message"]["content"] for f in frames)

    assert snapshots == [
        ["123**23"],
        ["123**23", ""],
        ["123**23", "1169008215014432917465348578887506800769541157267 / 5"],
    ]
    assert frames[-1]["usage"]["plugins"] == {"code_interpreter": {"count": 2}}
    assert answer == (
        "First run result: 123 to the power of 23 = 1169008215014432917465348578887506800769541157267\n\n"
        "Second run result: The above result divided by 5 = 2.338016430028866e+47"
    )


def test_multimodal_path_sends_content_as_parts_and_reasoning_as_a_string(emu: Emulator) -> None:
    frames = native_payloads(post(emu, MULTIMODAL, native_body(SEED_QUESTION, "qwen3.5-plus", parts=True)).content)
    messages = [f["output"]["choices"][0]["message"] for f in frames]

    assert messages[0] == {"content": [], "reasoning_content": "The", "role": "assistant"}
    # Answer frames carry no reasoning_content, as in the live multimodal capture.
    assert messages[43] == {"content": [{"text": "123 to the power of "}], "role": "assistant"}
    assert "".join(p["text"] for m in messages for p in m["content"]).endswith(SEED_ANSWER)


def test_the_multimodal_stop_frame_still_carries_answer_text_and_text_token_usage(emu: Emulator) -> None:
    frames = native_payloads(post(emu, MULTIMODAL, native_body(SEED_QUESTION, "qwen3.5-plus", parts=True)).content)
    last = frames[-1]
    assert last["output"]["choices"][0]["finish_reason"] == "stop"
    assert last["output"]["choices"][0]["message"]["content"] == [{"text": SEED_ANSWER[-2:]}]
    usage = last["usage"]
    assert usage["prompt_tokens_details"] == {} and usage["input_tokens_details"]["image_tokens"] == 0
    details = usage["output_tokens_details"]
    assert details["text_tokens"] + details["reasoning_tokens"] == usage["output_tokens"]


def test_multimodal_path_accepts_a_plain_string_content_too(emu: Emulator) -> None:
    frames = native_payloads(post(emu, MULTIMODAL, native_body(SEED_QUESTION, "qwen3.5-plus")).content)

    assert frames[0]["request_id"] == "a1959ad1-2637-4672-a21f-4d351371d254"


def test_responses_stream_returns_each_run_whole_with_its_logs(emu: Emulator) -> None:
    events = responses_events(post(emu, RESPONSES, responses_body(TWO_RUN_QUESTION)).content)
    runs = [
        e["item"]
        for e in events
        if e["type"] == "response.output_item.done" and e["item"]["type"] == "code_interpreter_call"
    ]

    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created" and events[0]["response"]["status"] == "queued"
    assert [(r["code"], r["outputs"]) for r in runs] == [
        ("123**23", [{"type": "logs", "logs": "1169008215014432917465348578887506800769541157267"}]),
        ("1169008215014432917465348578887506800769541157267 / 5", [{"type": "logs", "logs": "2.338016430028866e+47"}]),
    ]
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["usage"]["x_tools"] == {"code_interpreter": {"count": 2}}


def test_responses_code_run_events_come_in_the_interpreter_order(emu: Emulator) -> None:
    events = responses_events(post(emu, RESPONSES, responses_body(SEED_QUESTION)).content)
    kinds = [e["type"] for e in events]
    start = next(i for i, e in enumerate(events) if e.get("item", {}).get("type") == "code_interpreter_call")

    assert kinds[start : start + 5] == [
        "response.output_item.added",
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
        "response.output_item.done",
    ]
    assert events[start]["item"]["code"] == "" and events[start]["item"]["status"] == "in_progress"


def test_responses_usage_has_no_x_tools_when_no_code_ran(emu: Emulator) -> None:
    emu.set_conversation(Conversation("no-code", 10, (Reasoning((Delta("Easy.", 2, 2),)), Answer((Delta("4", 1),)))))
    events = responses_events(post(emu, RESPONSES, responses_body("What is 2+2?")).content)

    assert events[-1]["response"]["usage"] == {
        "input_tokens": 10,
        "output_tokens": 3,
        "total_tokens": 13,
        "output_tokens_details": {"reasoning_tokens": 2},
    }


def test_legacy_responses_path_serves_the_same_stream(emu: Emulator) -> None:
    legacy = post(emu, "/api/v2/apps/protocols/compatible-mode/v1/responses", responses_body(SEED_QUESTION))

    assert legacy.content == emulator_stream_path("responses_seed").read_bytes()


def test_non_streaming_responses_request_gets_the_whole_response_object(emu: Emulator) -> None:
    body = responses_body(SEED_QUESTION) | {"stream": False}
    response = post(emu, RESPONSES, body)

    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "completed"
    assert response.json()["output"][-1]["content"][0]["text"].endswith(SEED_ANSWER)


def test_replay_serves_the_given_bytes_verbatim_then_goes_back_to_conversations(emu: Emulator) -> None:
    recorded = b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{}}\n\n'
    emu.replay(recorded)

    first = post(emu, CHAT, chat_body(SEED_QUESTION, include_usage=False))
    second = post(emu, CHAT, chat_body(SEED_QUESTION, include_usage=False))

    assert first.content == recorded
    assert first.headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert second.content.endswith(b"data: [DONE]\n\n")


def test_replay_accepts_a_file_and_repeats_it_the_given_number_of_times(emu: Emulator) -> None:
    emu.replay(emulator_stream_path("native_two_runs"), times=2)

    bodies = [post(emu, TEXT_GENERATION, native_body(SEED_QUESTION)).content for _ in range(3)]

    assert bodies[0] == bodies[1] == emulator_stream_path("native_two_runs").read_bytes()
    assert bodies[2] == emulator_stream_path("native_seed").read_bytes()
