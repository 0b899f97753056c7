"""Behaviours audit 9's misses showed no test checked (issue 26). Each test names the behaviour; the break
it was checked against is in its comment."""

from __future__ import annotations

import json

import pytest

from qwen_ci_tool import APIStatusError, CodeInterpreter, ProtocolError

from ..conftest import PLANTED_KEY
from ._frames import native_frame
from ._mock import MODES, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("frame", ["data:\n\n", "data: \n\n", "\n"], ids=["empty-data", "blank-data", "no-data"])
async def test_a_native_event_without_data_is_malformed_json_as_the_vendor_sdk_reads_it(mode: str, frame: str) -> None:
    # Break (audit 9, c13): `obj = loads(sse.data) if sse.data else {}` - an empty native frame ignored.
    stream = native_frame(1, reasoning="Let me think") + f"id:2\nevent:result\n:HTTP_STATUS/200\n{frame}"
    with pytest.raises(ProtocolError, match="The stream carried malformed JSON") as info:
        await run(mode, lambda r: sse_response(stream), max_retries=0)
    assert info.value.partial is not None and info.value.partial.reasoning == "Let me think"


@pytest.mark.parametrize("mode", MODES)
async def test_a_native_frame_with_only_an_error_code_is_the_services_error(mode: str) -> None:
    # Break (audit 9, c18): `if obj.get("code") and obj.get("message"):` - a code without a message ignored,
    # the stream then ends as if nothing had happened.
    bare = json.dumps({"code": "InternalError", "request_id": "rid-bare"})
    stream = native_frame(1, reasoning="Let me think") + f"id:2\nevent:result\n:HTTP_STATUS/200\ndata:{bare}\n\n"
    with pytest.raises(APIStatusError) as info:
        await run(mode, lambda r: sse_response(stream), max_retries=0)
    assert info.value.code == "InternalError"
    assert info.value.partial is not None and info.value.partial.reasoning == "Let me think"


def test_settings_region_is_the_region_named_and_none_when_a_base_url_was_given_instead() -> None:
    # Break (audit 9, c20): `region=region or C.DEFAULT_REGION` - a client sent to a base_url reports a region.
    assert CodeInterpreter(api_key=PLANTED_KEY, base_url="http://127.0.0.1:9/api/v1").settings.region is None
    assert CodeInterpreter(api_key=PLANTED_KEY, region="singapore").settings.region == "singapore"
