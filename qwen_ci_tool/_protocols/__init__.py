"""Wire protocols, each sans-I/O: a request builder and a decoder of parsed SSE events.

Adding a protocol is adding one module here and one line to :data:`PROTOCOLS`.
"""

from __future__ import annotations

from ._base import Decoder, RequestSpec, WireProtocol
from ._chat import CHAT_COMPLETIONS
from ._native import NATIVE
from ._responses import RESPONSES

__all__ = ["PROTOCOLS", "Decoder", "RequestSpec", "WireProtocol"]

PROTOCOLS: dict[str, WireProtocol] = {p.name: p for p in (NATIVE, CHAT_COMPLETIONS, RESPONSES)}
