"""Wire protocols, each sans-I/O: a request builder and a decoder of parsed SSE events.

:data:`PROTOCOLS` is the one source of protocol names (in the order they are shown) and of what
each returns (``returns_code``, ``returns_output``): settings, flags, renderings and the model
table read them from here. Adding a protocol is adding one module here and one line to it.
"""

from __future__ import annotations

from ._base import Decoder, RequestSpec, WireProtocol
from ._chat import CHAT_COMPLETIONS
from ._native import NATIVE
from ._responses import RESPONSES

__all__ = ["PROTOCOLS", "Decoder", "RequestSpec", "WireProtocol", "describe_protocols", "returning"]

PROTOCOLS: dict[str, WireProtocol] = {p.name: p for p in (NATIVE, CHAT_COMPLETIONS, RESPONSES)}


def returning(*, code: bool = False, output: bool = False) -> list[str]:
    """Names of the protocols that return the code (and, with ``output``, what it printed)."""
    return [p.name for p in PROTOCOLS.values() if (p.returns_code or not code) and (p.returns_output or not output)]


def describe_protocols() -> str:
    """What each protocol returns, in one phrase: "'dashscope' returns the code, ..."."""

    def what(p: WireProtocol) -> str:
        if p.returns_output:
            return "the code and its output"
        return "the code" if p.returns_code else "no code"

    return ", ".join(f"{p.name!r} returns {what(p)}" for p in PROTOCOLS.values())
