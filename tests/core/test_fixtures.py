"""Every recorded stream, in its one home, read through the public API:

- ``tests/fixtures/reconstructed/``: the live service's shapes PROTOCOL.md records, rebuilt as files
  (each named ``*.reconstructed.*``, its source in ``SOURCES.md``);
- ``tests/fixtures/live/``: what a live run left (``make live-test``; commit them to keep them), each
  replayed by the emulator and giving the result recorded with it;
- the emulator-made streams the package ships (``qwen_ci_tool.testing.emulator_stream_path``),
  replayed through the client cut at the awkward places: inside a UTF-8 character, between ``\\r``
  and ``\\n``, and in the middle of ``data:``.

(Bodies quoted from public captures and the vendor's examples stay inline in
``test_captured_shapes.py``, beside the assertion each one proves.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from qwen_ci_tool import BadRequestError, CodeInterpreter, RateLimitError
from qwen_ci_tool.testing import SEED_ANSWER, emulator_stream_path
from tests.live._live import replay as replay_live

from ._mock import MODES, SSE, Chunks, Script, run, sse_response

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECORDED = FIXTURES / "reconstructed"
LIVE_RECORDINGS = sorted((FIXTURES / "live").glob("*.sse"))


def test_every_recorded_file_says_it_is_reconstructed_and_names_its_source() -> None:
    sources = (RECORDED / "SOURCES.md").read_text(encoding="utf-8")
    files = sorted(p.name for p in RECORDED.iterdir() if p.name != "SOURCES.md")
    assert files
    for name in files:
        assert ".reconstructed." in name, f"{name}: only a live capture may drop 'reconstructed' from its name"
        row = next((line for line in sources.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None and "PROTOCOL.md" in row, f"{name} has no source row in SOURCES.md"


@pytest.mark.parametrize("mode", MODES)
async def test_the_responses_rate_limit_in_a_200_is_a_retryable_rate_limit(mode: str) -> None:
    body = (RECORDED / "responses_rate_limit_200.reconstructed.json").read_bytes()
    reply = httpx.Response(200, headers={"content-type": "application/json", "x-request-id": "rid-200"}, content=body)
    script = Script(reply)
    with pytest.raises(RateLimitError) as caught:
        await run(mode, script, protocol="responses", max_retries=1)
    assert caught.value.retryable and caught.value.request_id == "rid-200" and len(script.requests) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_the_native_error_in_a_200_takes_its_status_from_inside_the_stream(mode: str) -> None:
    frames = (RECORDED / "native_error_in_200.reconstructed.sse").read_bytes()
    script = Script(lambda: sse_response(frames))
    with pytest.raises(BadRequestError) as caught:
        await run(mode, script, max_retries=1)
    err = caught.value
    assert err.status_code == 400 and err.code == "InvalidParameter" and err.request_id == "placeholder-request-id"
    assert len(script.requests) == 1 and err.partial is None


# --- emulator-made streams, cut at the awkward places ---------------------------------------

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


# --- live recordings ------------------------------------------------------------------------


@pytest.mark.skipif(
    not LIVE_RECORDINGS, reason="no live recordings yet: `make live-test` with a key leaves them in tests/fixtures/live"
)
@pytest.mark.parametrize("path", LIVE_RECORDINGS, ids=[p.stem for p in LIVE_RECORDINGS])
def test_a_live_recording_replayed_gives_the_recorded_result(path: Path) -> None:
    replayed, recorded = replay_live(path)
    assert replayed == recorded
