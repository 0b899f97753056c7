"""The server on a platform without loop signal handlers (Windows): it starts, serves, and ends cleanly.

The real server runs in a subprocess made Windows-like before it starts: asyncio's
``add_signal_handler`` raises ``NotImplementedError`` and ``signal.SIGHUP`` does not exist.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from mcp_server import TOOL_NAME
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from .conftest import REPO
from .processes import server_env, server_process
from .test_tool import text_of

pytestmark = pytest.mark.anyio

#: Run the server as it would run on Windows, as far as signals go.
WINDOWS_LIKE = """
import asyncio, signal, sys

def add_signal_handler(self, sig, callback, *args):
    raise NotImplementedError

asyncio.SelectorEventLoop.add_signal_handler = add_signal_handler
del signal.SIGHUP
from mcp_server.__main__ import main
sys.exit(main())
"""


def windows_like(*args: str) -> list[str]:
    return ["-c", WINDOWS_LIKE, "--max-retries", "0", *args]


async def test_without_signal_handlers_a_stdio_session_answers_and_ends_cleanly_at_end_of_input(
    emu: Emulator, tmp_path: Path
) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=windows_like(),
        env=server_env(DASHSCOPE_API_KEY=PLANTED_KEY, DASHSCOPE_HTTP_BASE_URL=emu.base_url),
        cwd=REPO,
    )
    with (tmp_path / "stderr.log").open("w+") as errlog:
        for mode in ("legacy", "auto"):
            async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:  # type: ignore[arg-type]
                with anyio.fail_after(30):
                    result = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
                assert SEED_ANSWER in text_of(result)
        errlog.seek(0)
        log = errlog.read()

    assert log.count("input ended") == 2  # each session ended by its end of input, gracefully
    assert "Traceback" not in log and "NotImplementedError" not in log


def test_without_signal_handlers_the_http_server_serves_and_ctrl_c_shuts_it_down_gracefully(
    emu: Emulator, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("alice:alice-token-0123456789\n")  # a token file is reloaded on SIGHUP where it exists
    args = windows_like("--transport", "streamable-http", "--port", "0", "--auth-token-file", str(tokens))
    with server_process(
        args, server_env(DASHSCOPE_API_KEY=PLANTED_KEY, DASHSCOPE_HTTP_BASE_URL=emu.base_url)
    ) as server:

        async def call() -> str:
            headers = {"Authorization": "Bearer alice-token-0123456789"}
            async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
                async with Client(streamable_http_client(server.url, http_client=http)) as client:
                    with anyio.fail_after(30):
                        return text_of(await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION}))

        assert SEED_ANSWER in anyio.run(call)
        server.signal(signal.SIGINT)  # what Ctrl-C sends
        code = server.wait()

    log = server.output()
    assert code == 0
    assert "shutting down" in log and "exiting" in log  # the graceful shutdown, as on SIGTERM elsewhere
    assert "Traceback" not in log and "NotImplementedError" not in log
