"""Audit 13's misses in the emulator package (issue 26): each test fails with the break its comment names."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from qwen_ci_tool import testing
from qwen_ci_tool.testing import FAULT_NAMES, Emulator, Fault, synthetic_conversation

from ._requests import CHAT, HEADERS, chat_body


def test_every_public_class_and_function_of_the_emulator_reports_the_package_as_its_module() -> None:
    # Break a11: the loop that renames them skips the first public name (`for _name in __all__[1:]`).
    defined_here = [
        n for n in testing.__all__ if isinstance(getattr(testing, n), type) or callable(getattr(testing, n))
    ]
    assert defined_here[0] == testing.__all__[0]
    assert {n: getattr(testing, n).__module__ for n in defined_here} == dict.fromkeys(
        defined_here, "qwen_ci_tool.testing"
    )


def test_a_conversation_without_a_created_stamp_is_served_with_the_time_of_the_request() -> None:
    # Break a26: `created` defaults to a fixed stamp instead of None (each request's own time).
    with Emulator(conversation=synthetic_conversation(20)) as emu:
        before = int(time.time())
        with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as client:
            body = client.post(CHAT, json=chat_body("anything")).read()
        after = int(time.time())
    chunks = [
        json.loads(line[5:]) for line in body.split(b"\n") if line.startswith(b"data:") and line != b"data: [DONE]"
    ]
    assert chunks and all(before <= chunk["created"] <= after for chunk in chunks)


def test_an_unknown_fault_name_lists_the_known_names_in_order() -> None:
    # Break a37: the known names listed as the set gives them (hash-seed order), not sorted.
    with pytest.raises(ValueError, match=re.escape(f"known names: {', '.join(sorted(FAULT_NAMES))}, or any")):
        Fault.named("bogus")
