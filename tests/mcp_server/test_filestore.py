"""The run store several replicas share through a directory (``--run-store-dir``)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mcp_server.__main__ import main
from mcp_server._filestore import FileRunStore
from mcp_server._runs import RunRecord, new_run_id

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_record_written_by_one_replica_is_read_by_another(tmp_path: Path) -> None:
    writer, reader = FileRunStore(tmp_path), FileRunStore(tmp_path)
    record = RunRecord(new_run_id(), started_at=1.0, stage="thinking", message="thinking")
    await writer.put(record)
    assert await reader.get(record.run_id) == record

    finished = record.advanced(state="finished", result={"content": [], "isError": False}, finished_at=2.0e9)
    async with anyio.create_task_group() as tg:
        seen: list[RunRecord | None] = []

        async def wait() -> None:
            seen.append(await reader.wait(record.run_id, record.version, 10))

        tg.start_soon(wait)
        await writer.put(finished)
    assert seen == [finished]
    assert [p.name for p in tmp_path.iterdir()] == [f"{record.run_id}.json"]  # no temporary files left


async def test_wait_returns_the_unchanged_record_after_its_timeout(tmp_path: Path) -> None:
    store = FileRunStore(tmp_path, poll_interval=0.01)
    record = RunRecord(new_run_id(), started_at=1.0)
    await store.put(record)
    with anyio.fail_after(5):
        assert await store.wait(record.run_id, record.version, 0.05) == record


async def test_finished_results_expire_and_unknown_or_foreign_ids_are_none(tmp_path: Path) -> None:
    clock = Clock()
    store = FileRunStore(tmp_path, ttl=60, clock=clock)
    record = RunRecord(new_run_id(), started_at=clock.now, state="finished", result={}, finished_at=clock.now)
    await store.put(record)
    clock.now += 59
    assert await store.get(record.run_id) == record
    clock.now += 1
    assert await store.get(record.run_id) is None
    assert await store.get(new_run_id()) is None
    assert await store.get("../../etc/passwd") is None  # never a path outside the directory
    with pytest.raises(ValueError, match="not a run id"):
        await store.put(RunRecord("../escape", started_at=0.0))


async def test_a_running_record_silent_too_long_is_reported_lost(tmp_path: Path) -> None:
    clock = Clock()
    store = FileRunStore(tmp_path, stale_after=300, clock=clock)
    record = RunRecord(new_run_id(), started_at=clock.now)
    await store.put(record)
    clock.now += 299
    assert (await store.get(record.run_id)) == record
    clock.now += 1
    lost = await store.get(record.run_id)

    assert lost is not None and lost.state == "finished" and lost.result is not None
    assert lost.result["isError"] is True and "stopped before it finished" in lost.result["content"][0]["text"]


def test_an_unusable_store_directory_stops_the_server_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("")

    assert main(["--run-store-dir", str(tmp_path / "a-file" / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qwen-ci-mcp: error: ") and "run store directory" in err and err.count("\n") == 1
