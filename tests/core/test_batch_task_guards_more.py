"""A batch task given as a ``BatchTask`` with only messages (a class-body break of its defaults, issue 26)."""

from __future__ import annotations

import json

import pytest

from qwen_ci_tool import BatchTask

from ._frames import native_frame
from ._mock import Script, clients, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


def test_a_batch_task_given_only_messages_sends_those_messages() -> None:
    script = Script(lambda: sse_response(native_frame(1, content="42", finish="stop")))
    sync, _ = clients(script)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "6 * 7?"}]
    with sync:
        outcomes = list(sync.run_many([BatchTask("a", messages=messages)]))
    assert [(o.id, o.status) for o in outcomes] == [("a", "completed")]
    assert json.loads(script.requests[0].content)["input"]["messages"] == messages
