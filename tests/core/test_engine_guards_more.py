"""What a call decides from a reply, where a dropped clause would change what a user reads (the
mutation sweep's ``more`` kinds, issue 26)."""

from __future__ import annotations

import httpx
import pytest

from qwen_ci_tool import ProtocolError

from ._mock import MODES, Script, run

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
async def test_a_json_success_reply_instead_of_a_stream_is_told_as_no_event_stream(mode: str) -> None:
    reply = httpx.Response(200, json={"id": "resp-1", "status": "completed", "output": []})
    with pytest.raises(ProtocolError) as info:
        await run(mode, Script(reply))
    assert "Expected an event stream (text/event-stream) but got application/json with HTTP 200" in str(info.value)
