"""Decoders' defaults for what a frame leaves unsaid (issue 26, audit 14)."""

from __future__ import annotations

import pytest

from qwen_ci_tool import BadRequestError

from ._frames import native_frame
from ._mock import MODES, Script, run, sse_response


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_frame_that_is_an_error_body_without_a_status_is_a_client_error_and_not_retried(
    mode: str,
) -> None:
    # Audit 14's a24 (`self._error(400, obj)` -> 500 for a frame with a code and no output): a refusal the
    # service wrote as a plain data frame became a server error, retried and billed as transient.
    frames = native_frame(1, reasoning="thinking") + (
        'id:2\ndata:{"code":"SomethingNew","message":"not like that","request_id":"r-400"}\n\n'
    )
    script = Script(lambda: sse_response(frames))
    with pytest.raises(BadRequestError) as info:
        await run(mode, script, max_retries=2)
    err = info.value
    assert err.status_code == 400 and err.code == "SomethingNew" and not err.retryable
    assert err.request_id == "r-400" and len(script.requests) == 1


def test_a_rate_limit_duration_with_spaces_around_it_is_read() -> None:
    # Break: `value.strip()` dropped in parse_duration: " 1m30s " no longer matched its own units.
    from qwen_ci_tool._classify import parse_duration

    assert parse_duration(" 1m30s ") == 90.0 and parse_duration("\t20ms\n") == 0.02
