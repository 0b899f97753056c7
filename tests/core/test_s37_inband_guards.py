"""An in-band failure status (``:HTTP_STATUS/<n>``, ``status:``) is the service's (or its gateway's) word on
every protocol, whatever the frame's data holds: nothing, text, or a JSON value that is no object."""

from __future__ import annotations

import pytest

from qwen_ci_tool import InternalServerError, StreamInterruptedError

from ._frames import chat_chunk, native_frame, responses_event
from ._mock import MODES, run, sse_response

_BEFORE = {
    "dashscope": native_frame(1, reasoning="thinking") + native_frame(2, content="half"),
    "openai": chat_chunk({"reasoning_content": "thinking"}) + chat_chunk({"content": "half"}),
    "responses": (
        responses_event("response.created", response={"id": "resp_1", "status": "queued"})
        + responses_event("response.reasoning_text.delta", delta="thinking")
        + responses_event("response.output_text.delta", delta="half")
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("protocol", list(_BEFORE))
@pytest.mark.parametrize(
    ("data", "said"),
    [
        ("", "the reply had an empty body"),
        ("data:upstream busy\n", "the reply was not JSON: 'upstream busy'"),
        ('data:"upstream busy"\n', """the reply was not JSON: '"upstream busy"'"""),
    ],
    ids=["no-data", "text", "json-string"],
)
async def test_an_in_band_status_over_data_that_is_no_json_object_is_the_failure_of_that_status(
    mode: str, protocol: str, data: str, said: str
) -> None:
    frames = _BEFORE[protocol] + f":HTTP_STATUS/503\n{data}\n"
    with pytest.raises(InternalServerError) as info:
        await run(mode, lambda r: sse_response(frames), protocol=protocol, max_retries=0)
    err = info.value
    assert not isinstance(err, StreamInterruptedError)
    assert err.status_code == 503 and said in err.message
    assert err.partial is not None and err.partial.answer == "half" and err.partial.reasoning == "thinking"
