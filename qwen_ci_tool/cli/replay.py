"""``qwen-ci replay FILE``: a stream saved by ``qwen-ci ask --record FILE``, shown again as ``ask`` showed it.

The local emulator answers with the file verbatim, and ``ask`` reads it with the same client, live
view and result printing (``--json``, ``--show-reasoning``, ``--export``): no key, no network. The
protocol the stream was recorded over is recognised from its framing unless ``--protocol`` names it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO

from .._exceptions import ConfigurationError
from .ask import ask
from .flags import SETTING_FLAGS

__all__ = ["protocol_of", "replay"]


def protocol_of(stream: bytes) -> str:
    """The protocol a recorded stream speaks, from its framing: Responses events are typed
    ``response.*``, Chat Completions chunks are ``chat.completion.chunk`` objects, else native."""
    if b"event:response." in stream or b'"type":"response.' in stream or b'"type": "response.' in stream:
        return "responses"
    if b"chat.completion.chunk" in stream:
        return "openai"
    return "dashscope"


def replay(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    stream = Path(args.file).read_bytes()  # a missing file is an OSError, reported by main
    if not stream.strip():
        raise ConfigurationError(f"{args.file} is empty: there is no stream to replay.")
    if b"data:" not in stream:  # every protocol's events are "data:" lines; else it would read as the service's fault
        raise ConfigurationError(
            f"{args.file} holds no server-sent events (no 'data:' line): it is not a stream saved by "
            "`qwen-ci ask --record FILE`. Record one with that command, then replay it."
        )
    args.protocol = args.protocol or protocol_of(stream)
    # What ask() reads that a replay does not take: every other setting stays the default.
    for flag in SETTING_FLAGS:
        vars(args).setdefault(flag.setting, None)
    args.question = f"(the question recorded in {Path(args.file).name})"
    args.record, args.emulator, args.replay = None, False, stream
    return ask(args, stdout, stderr)
