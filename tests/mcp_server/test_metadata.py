"""What MCP clients show for the server and its tools: titles, icons and annotations.

Checked on the wire (camelCase JSON) from the Python SDK's client in both modes here; the
TypeScript SDK's own client (``test_ts_client.py``, stdio and HTTP) and the Inspector CLI
(``test_inspector.py``) check the same with these helpers.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME


def decode_data_uri(src: str, mime_type: str) -> bytes:
    prefix = f"data:{mime_type};base64,"
    assert src.startswith(prefix), src[:40]
    return base64.b64decode(src[len(prefix) :], validate=True)


def check_icons(icons: list[dict[str, Any]]) -> None:
    """A 64x64 PNG (every client must show PNG) and an SVG for any size, both inline and safe."""
    assert [(i["mimeType"], i["sizes"]) for i in icons] == [("image/png", ["64x64"]), ("image/svg+xml", ["any"])]
    png = decode_data_uri(icons[0]["src"], "image/png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (64, 64)
    svg = ElementTree.fromstring(decode_data_uri(icons[1]["src"], "image/svg+xml"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("viewBox") == "0 0 64 64"
    tags = {element.tag.rsplit("}", 1)[-1] for element in svg.iter()}
    assert tags <= {"svg", "rect", "path"}  # nothing a client would have to sandbox (no script, no links)


def check_server(server: dict[str, Any]) -> None:
    """The server's metadata (``serverInfo``) as a client receives it (wire JSON)."""
    assert server["name"] == "qwen-ci-tool"
    assert server["title"] == "Qwen code interpreter (qwen-ci-tool)"
    assert "code interpreter" in server["description"]
    check_icons(server["icons"])


def check_tools(tools: list[dict[str, Any]]) -> None:
    """The tools' titles, annotations and icons as a client receives them (wire JSON)."""
    by_name = {tool["name"]: tool for tool in tools}
    assert list(by_name) == [TOOL_NAME, RESULT_TOOL_NAME]
    run, result = by_name[TOOL_NAME], by_name[RESULT_TOOL_NAME]
    assert run["title"] == run["annotations"]["title"] == "Qwen code interpreter"
    assert result["title"] == result["annotations"]["title"] == "Qwen code interpreter: result of a run"
    # Starting a run: reads nothing of the user's, calls a service, and every call is a new billed run.
    assert run["annotations"] == {
        "title": run["title"],
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": True,
    }
    # Fetching a result: the same answer again, from this server's own record, nothing outside.
    assert result["annotations"] == {
        "title": result["title"],
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    }
    for tool in (run, result):
        check_icons(tool["icons"])


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_python_client_sees_titles_icons_and_annotations(
    make_server: Callable[..., MCPServer], mode: str
) -> None:
    async with Client(make_server(), mode=mode) as client:
        with anyio.fail_after(10):
            listed = await client.list_tools()
        server = client.server_info

    assert server is not None
    check_server(server.model_dump(by_alias=True, mode="json", exclude_none=True))
    check_tools([tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in listed.tools])
