"""Behaviours audit 11 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import json

from ._frames import native_stream
from ._mock import Script, clients, sse_response


def test_the_native_multimodal_path_gets_text_as_a_part_and_parts_as_they_came() -> None:
    # A message whose content is a string becomes one text part; one already given as parts is sent
    # as it came (not wrapped again as the text of a part).
    script = Script(lambda: sse_response(native_stream()))
    sync, _ = clients(script, model="qwen3.5-plus", protocol="dashscope")
    messages = [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": [{"text": "What is 2**20?"}]},
    ]
    with sync:
        sync.run(messages=messages)
    sent = json.loads(script.requests[0].content)["input"]["messages"]
    assert script.requests[0].url.path.endswith("/multimodal-generation/generation")
    assert sent == [
        {"role": "system", "content": [{"text": "Be exact."}]},
        {"role": "user", "content": [{"text": "What is 2**20?"}]},
    ]
