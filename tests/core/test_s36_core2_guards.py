"""Session 36's second core sweep (issue 26): the quiet effects no test held before: an async call's byte iterator
closed at once, ...; each test fails with the one-line break in its docstring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from qwen_ci_tool import AsyncCodeInterpreter
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY


async def test_an_async_call_closes_its_response_byte_iterator_before_it_returns(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`await chunks.aclose()` dropped from the async attempt's `finally` (the iterator, left suspended after the
    [DONE] marker, is closed only when the garbage collector hands it to the event loop: a task per layer, and a
    ResourceWarning per layer under trio)."""
    made: list[Any] = []
    aiter_bytes = httpx.Response.aiter_bytes

    def recorded(self: httpx.Response, *args: Any, **kwargs: Any) -> Any:
        made.append(aiter_bytes(self, *args, **kwargs))
        return made[-1]

    monkeypatch.setattr(httpx.Response, "aiter_bytes", recorded)
    # the OpenAI stream ends at its [DONE] marker, read before the end of the body
    async with AsyncCodeInterpreter(api_key="sk-test", base_url=emu.base_url, protocol="openai") as aci:
        assert SEED_ANSWER in (await aci.run(SEED_QUESTION)).answer
    assert len(made) == 1 and made[0].ag_frame is None


def test_a_blank_key_variable_still_lets_the_key_file_give_the_key(tmp_path: Path) -> None:
    """G16: `if not value.strip() and env.get(KEY_FILE)` -> `if not value and ...` (a key variable holding only
    spaces, as an unset-by-hand `export DASHSCOPE_API_KEY=" "` leaves it, hides the key file: no key at all)."""
    key_file = tmp_path / "key"
    key_file.write_text(PLANTED_KEY + "\n", encoding="utf-8")

    settings = resolve_settings(env={"DASHSCOPE_API_KEY": "  ", "DASHSCOPE_API_KEY_FILE_PATH": str(key_file)})

    assert settings.api_key is not None and settings.api_key.get_secret_value() == PLANTED_KEY
    assert settings.key_source == "DASHSCOPE_API_KEY_FILE_PATH"
