"""The emulator's fault streams keep their timing where it was (issue 26, audit 14)."""

from __future__ import annotations

import http.client
import itertools
import time

import pytest

from qwen_ci_tool import CodeInterpreter, ReasoningDelta, StreamInterruptedError
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

PAUSE = 0.8
#: How the seed's reasoning before its code run ends (Chat Completions' recording).
BEFORE_THE_CODE = "Let me construct this function call."


def test_a_truncated_chat_stream_keeps_its_silence_while_the_code_runs_where_it_was() -> None:
    # Chat Completions carries no code: the stream just goes silent while the sandbox runs (a byte-less
    # event). Audit 14's a19 (`if not held:` -> `if held:` in _withhold) moved that silence before the last
    # events ahead of it; before that fix, a truncated stream dropped the silence altogether.
    with (
        Emulator(code_pause=PAUSE) as emu,
        CodeInterpreter(
            api_key="sk-test", base_url=emu.base_url, protocol="openai", max_retries=0, idle_timeout=30
        ) as ci,
    ):
        emu.add_fault(Fault.truncate(last=2))  # stops after the finish_reason chunk: no usage, no [DONE]
        start = time.monotonic()
        arrivals: list[tuple[float, object]] = []

        def read() -> None:
            with ci.stream(SEED_QUESTION) as stream:
                arrivals.extend((time.monotonic() - start, event) for event in stream)

        with pytest.raises(StreamInterruptedError):
            read()
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(arrivals)]
    widest = max(range(len(gaps)), key=gaps.__getitem__)
    before = "".join(event.text for _, event in arrivals[: widest + 1] if isinstance(event, ReasoningDelta))
    assert gaps[widest] >= PAUSE * 0.9, f"no silence of {PAUSE} s: the widest gap was {gaps[widest]:.2f} s"
    assert before.endswith(BEFORE_THE_CODE), f"the silence came after {before[-60:]!r}"


def test_the_model_list_keeps_the_connection_open_for_the_next_request() -> None:
    # Audit 14's a40 (`return True` -> `return False` after GET /models): the emulator closed the connection
    # after listing the models, unlike every other answer and unlike the service.
    with Emulator() as emu:
        host, port = emu.base_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            statuses = []
            for _ in range(2):
                conn.request("GET", "/compatible-mode/v1/models", headers={"Authorization": "Bearer sk-test"})
                response = conn.getresponse()
                response.read()
                statuses.append((response.status, response.getheader("connection")))
                if len(statuses) == 1:
                    first = conn.sock
            same = conn.sock is first and first is not None
        finally:
            conn.close()
    assert statuses == [(200, None), (200, None)] and same
