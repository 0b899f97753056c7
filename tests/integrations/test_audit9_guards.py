"""Behaviours audit 9's misses showed no test checked (issue 26), LangChain side. Each test fails with its break."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from integrations import _langchain_progress
from qwen_ci_tool import CodeInterpreter
from qwen_ci_tool.testing import SEED_QUESTION, Emulator


def test_output_deltas_reach_the_tools_stream_even_without_a_custom_stream_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Break (audit 9, g01): `if self._emit is None or self._writer is None:` - a graph streamed with "tools"
    # but not "custom" (no writer) got no output deltas at all.
    monkeypatch.setattr(_langchain_progress, "stream_writer", lambda: None)
    emitted: list[Any] = []
    progress = _langchain_progress.Progress(SimpleNamespace(emit_output_delta=emitted.append))
    with Emulator() as emu, CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as client:
        with client.stream(SEED_QUESTION) as stream:
            for event in stream:
                progress.feed(event)
    kinds = {delta["type"] for delta in emitted}
    assert {"reasoning", "code", "answer"} <= kinds, kinds
