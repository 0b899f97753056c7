"""Input that is not text (a lone surrogate, binary bytes) is a ConfigurationError before anything
is sent, on every entry point: the library (sync and async), the CLI, the MCP tool, the LangChain tool."""

from __future__ import annotations

import subprocess
import sys

import anyio
import pytest
from mcp import Client

from integrations.langchain import QwenCodeInterpreterTool
from mcp_server import TOOL_NAME, create_server
from qwen_ci_tool import AsyncCodeInterpreter, CodeInterpreter, ConfigurationError
from qwen_ci_tool.testing import Emulator

from .cli.processes import clean_env
from .conftest import PLANTED_KEY

LONE_SURROGATE = "What is 2 + \udcff 3?"
WITH_NUL = "What is 2 + 3?\x00\x01\x02"


@pytest.mark.parametrize("question", [LONE_SURROGATE, WITH_NUL], ids=["lone-surrogate", "nul"])
async def test_the_library_refuses_text_that_is_not_text_before_sending(question: str, emu: Emulator) -> None:
    with CodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as ci:
        with pytest.raises(ConfigurationError, match="not valid text") as sync_err:
            ci.run(question)
    async with AsyncCodeInterpreter(api_key=PLANTED_KEY, base_url=emu.base_url) as aci:
        with pytest.raises(ConfigurationError, match="not valid text"):
            await aci.run(
                messages=[{"role": "system", "content": "ok"}, {"role": "user", "content": [{"text": question}]}]
            )
    assert "UTF-8 text" in str(sync_err.value)
    assert emu.requests == []


def test_valid_text_in_any_script_is_accepted() -> None:
    from qwen_ci_tool._config import build_messages

    assert build_messages("1 + 1 = ? 一加一 🧮 \t\n", None)[0]["content"].endswith("\t\n")


def test_binary_bytes_piped_into_the_cli_exit_2_with_the_fix_and_no_traceback(emu: Emulator) -> None:
    binary = bytes(range(256)) * 8  # what `head -c 2000 /bin/ls` gives: not UTF-8
    env = clean_env(DASHSCOPE_API_KEY=PLANTED_KEY, PYTHONIOENCODING="utf-8:strict")
    proc = subprocess.run(
        [sys.executable, "-m", "qwen_ci_tool", "ask", "--base-url", emu.base_url, "-"],
        input=binary,
        capture_output=True,
        timeout=60,
        env=env,
        check=False,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, stderr
    assert "not valid text" in stderr and "Traceback" not in stderr
    assert emu.requests == []


async def test_the_mcp_tool_says_the_question_is_not_text_and_sends_nothing(emu: Emulator) -> None:
    server = create_server(api_key=PLANTED_KEY, base_url=emu.base_url)
    with anyio.fail_after(20):
        async with Client(server) as client:
            nul = await client.call_tool(TOOL_NAME, {"question": WITH_NUL})
            # The SDK's argument validation refuses a lone surrogate before the tool runs.
            surrogate = await client.call_tool(TOOL_NAME, {"question": LONE_SURROGATE})
    text = "\n".join(c.text for c in nul.content if c.type == "text")
    assert nul.is_error and "ConfigurationError" in text and "not valid text" in text
    assert surrogate.is_error
    assert emu.requests == []


async def test_the_langchain_tool_says_the_question_is_not_text_and_sends_nothing(emu: Emulator) -> None:
    tool = QwenCodeInterpreterTool(api_key=PLANTED_KEY, base_url=emu.base_url)
    call = {"type": "tool_call", "id": "call-1", "name": tool.name, "args": {"question": WITH_NUL}}
    for message in (tool.invoke(call), await tool.ainvoke(call)):
        assert message.status == "error" and "not valid text" in message.content
    # The args schema refuses a lone surrogate first; the tool says so as for any argument that does not fit.
    message = tool.invoke({**call, "args": {"question": LONE_SURROGATE}})
    assert message.status == "error" and "`question` is not valid text (a lone surrogate" in message.content
    assert emu.requests == []
