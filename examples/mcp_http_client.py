"""Call the qwen-ci MCP server over streamable HTTP from Python, with a bearer token.

qwen-ci-mcp --transport streamable-http --port 8765 --auth-token "$TOKEN"    # add --emulator to try it keyless
QWEN_CI_MCP_URL=http://127.0.0.1:8765/mcp QWEN_CI_MCP_AUTH_TOKEN="$TOKEN" python examples/mcp_http_client.py
"""

import asyncio
import os

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def http_client(token: str) -> httpx2.AsyncClient:
    # A client you build yourself (for the header) starts with httpx2's 5 s timeout, which ends any
    # call that is silent longer - while the remote code runs, it is. Wait as long as a call may take.
    return httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(30, read=600),
    )


async def main() -> None:
    url = os.environ.get("QWEN_CI_MCP_URL", "http://127.0.0.1:8765/mcp")
    async with (
        http_client(os.environ["QWEN_CI_MCP_AUTH_TOKEN"]) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        result = await client.call_tool("qwen_code_interpreter", {"question": "What is 123 to the power of 21?"})
    print(result.content[0].text if result.content else result)


if __name__ == "__main__":
    asyncio.run(main())
