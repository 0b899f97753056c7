"""The icon shown for the server and its tools in MCP clients (spec 2025-11-25 and later).

Sent inline as ``data:`` URIs, so a client shows it without fetching anything: a 64x64 PNG (the
format every client must support) and the same picture as SVG for any size. Both files sit next
to this module and ship in the wheel.
"""

from __future__ import annotations

import base64
from importlib import resources

from mcp.types import Icon

__all__ = ["ICONS"]


def _data_uri(name: str, mime_type: str) -> str:
    data = resources.files(__package__ or "mcp_server").joinpath(name).read_bytes()
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"


#: A terminal prompt on Qwen purple: PNG first (required of clients), SVG for other sizes.
ICONS = [
    Icon(src=_data_uri("icon.png", "image/png"), mime_type="image/png", sizes=["64x64"]),
    Icon(src=_data_uri("icon.svg", "image/svg+xml"), mime_type="image/svg+xml", sizes=["any"]),
]
