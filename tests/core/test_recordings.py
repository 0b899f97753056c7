"""The shipped emulator-made streams (the emulator's own output, not captures of the live service),
replayed through the client cut at the awkward places: inside a UTF-8 character, between \\r and
\\n, and in the middle of ``data:``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.testing import SEED_ANSWER, emulator_stream_path

from ._mock import SSE, Chunks

TWO_RUN_CODES = ["123**23", "1169008215014432917465348578887506800769541157267 / 5"]
STREAMS = {
    "native_seed": ("dashscope", {}, ["123**21"]),
    "multimodal_seed": ("dashscope", {"model": "qwen3.5-plus"}, ["123**21"]),
    "native_two_runs": ("dashscope", {}, TWO_RUN_CODES),
    "openai_seed": ("openai", {}, []),
    "responses_seed": ("responses", {}, ["123**21"]),
}


def replay(protocol: str, settings: dict[str, Any], pieces: list[bytes]) -> dict[str, Any]:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, headers=SSE, stream=Chunks(pieces)))
    with CodeInterpreter(
        api_key="sk-test", protocol=protocol, http_client=httpx.Client(transport=transport), **settings
    ) as ci:
        data = ci.run("q").to_dict()
    del data["timings"]
    return data


def awkward_cuts(data: bytes) -> list[int]:
    """Every offset inside a multi-byte character, between each \\r and \\n, and inside 'data:'."""
    cuts = {i for i, byte in enumerate(data) if 0x80 <= byte < 0xC0}  # continuation bytes
    cuts |= {i + 1 for i in range(len(data) - 1) if data[i : i + 2] == b"\r\n"}
    start = 0
    while (at := data.find(b"data:", start)) >= 0:
        cuts.add(at + 3)
        start = at + 1
    return sorted(cuts - {0})


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_a_recording_cut_at_every_awkward_place_gives_the_recorded_result(name: str) -> None:
    protocol, settings, codes = STREAMS[name]
    original = emulator_stream_path(name).read_bytes()
    # Multi-byte characters in the reasoning, and CRLF line endings, to have something to cut.
    data = original.replace(b"calculate", "calculaté ✓".encode(), 1).replace(b"\n", b"\r\n")
    cuts = awkward_cuts(data)
    assert len(cuts) > 100
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=False)]
    whole = replay(protocol, settings, [original])
    cut = replay(protocol, settings, pieces)
    assert cut["reasoning"].replace("calculaté ✓", "calculate", 1) == whole["reasoning"]
    assert "calculaté ✓" in cut["reasoning"]
    assert {k: v for k, v in cut.items() if k not in ("reasoning", "steps")} == {
        k: v for k, v in whole.items() if k not in ("reasoning", "steps")
    }
    assert whole["status"] == "completed" and [r["code"] for r in whole["code_runs"]] == codes
    if name != "native_two_runs":
        assert SEED_ANSWER in whole["answer"]
