"""The key never appears in exceptions, reprs, DEBUG logs, recorded streams or results."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from qwen_ci_tool import AsyncCodeInterpreter, CodeInterpreter, QwenCIError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "fault",
    [
        None,
        Fault.status(401),
        Fault.status(429, retry_after="0"),
        Fault.drop(after_events=10),
        Fault.error_event(after_events=5),
        Fault.malformed_json(after_events=5),
    ],
    ids=["ok", "401", "429", "drop", "error-event", "malformed"],
)
async def test_the_key_is_in_no_log_error_repr_record_or_result(
    fault: Fault | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    record = io.BytesIO()
    seen: list[str] = []
    with Emulator() as emu:
        if fault is not None:
            emu.add_fault(fault, times=5)
        for client_cls in (CodeInterpreter, AsyncCodeInterpreter):
            client = client_cls(api_key=PLANTED_KEY, base_url=emu.base_url, max_retries=1)
            seen += [repr(client), str(client), repr(vars(client))]
            try:
                if isinstance(client, CodeInterpreter):
                    with client:
                        result = client.run(SEED_QUESTION, record=record)
                else:
                    async with client:
                        result = await client.run(SEED_QUESTION, record=record)
                seen += [repr(result), str(result.to_dict()), result.to_markdown()]
            except QwenCIError as err:
                seen += [str(err), repr(err), repr(err.args), repr(vars(err))]
                if err.partial is not None:
                    seen.append(str(err.partial.to_dict()))
        assert emu.requests[0].headers["authorization"] == f"Bearer {PLANTED_KEY}", "the key was sent"
    seen += [r.getMessage() + repr(r.args) for r in caplog.records]
    assert any("qwen_ci_tool" in r.name for r in caplog.records), "debug logging is on"
    blob = "\n".join(seen) + record.getvalue().decode("utf-8", "replace")
    assert PLANTED_KEY not in blob
    assert "sk-planted" not in blob


def test_recorded_fixtures_hold_no_authorization_header_or_key() -> None:
    files = [
        *ROOT.glob("qwen_ci_tool/testing/emulator_made/*"),
        *(p for p in ROOT.glob("tests/fixtures/**/*") if p.is_file()),
    ]
    assert files
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace").lower()
        assert "authorization" not in text and "bearer " not in text, path
        assert "sk-" not in text, path
