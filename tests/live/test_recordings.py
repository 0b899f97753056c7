"""Every recording a live run left in ``tests/live/recordings`` (commit them to keep them) is a
regression fixture: the emulator replays it and the client must give the result recorded with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._live import replay

RECORDINGS = sorted((Path(__file__).parent / "recordings").glob("*.sse"))
if not RECORDINGS:
    pytest.skip(
        "no live recordings yet: `make live-test` with a key leaves them in tests/live/recordings",
        allow_module_level=True,
    )


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_a_live_recording_replayed_gives_the_recorded_result(path: Path) -> None:
    replayed, recorded = replay(path)
    assert replayed == recorded
