"""The floor of part 4's MCP rows: the MCP SDK's own ``MCPServer`` with one tool making the same core call.

It is the least any MCP server wrapping the core must do to return the same thing - one
``AsyncCodeInterpreter`` kept for the server's life, one ``run`` per call, the answer as text and the
same record as ``structuredContent`` under the same published output schema (so the SDK checks it on
both sides, as it does ours) - with none of our server's own work: progress and heartbeats, output
caps, run handles and their store, the agent-facing text, logs and metrics. It logs nothing: the
SDK's default set-up (a rich handler at INFO) would render a line per call, a console's cost that
no server needs. Our server's figure divided by this one is what our layer costs.

    python -m benchmarks._bare_mcp --base-url URL     # serves it over stdio (what the benchmark starts)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from mcp_server._fit import compact_record
from mcp_server._schema import RunOutputModel
from qwen_ci_tool import AsyncCodeInterpreter

TOOL = "qwen_code_interpreter"


def bare_server(settings: dict[str, Any]) -> MCPServer:
    """An ``MCPServer`` with the one tool; its core client opens on the first call's event loop."""
    server = MCPServer("bare-floor", log_level="WARNING")  # no line per call (httpx logs each request at INFO)
    clients: list[AsyncCodeInterpreter] = []

    @server.tool(name=TOOL)
    async def qwen_code_interpreter(question: str) -> Annotated[CallToolResult, RunOutputModel]:
        if not clients:
            clients.append(AsyncCodeInterpreter(**settings))
        result = await clients[0].run(question)
        return CallToolResult(
            content=[TextContent(type="text", text=result.answer)], structured_content=compact_record(result)
        )

    return server


def stdio_params(base: str, settings: dict[str, Any]) -> Any:
    """How the benchmark starts the bare server over stdio, as it starts ours (same environment)."""
    from mcp import StdioServerParameters

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": root, "DASHSCOPE_API_KEY": settings["api_key"]}
    args = ["-m", "benchmarks._bare_mcp", "--base-url", base, "--model", settings["model"]]
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    settings = {
        "api_key": os.environ["DASHSCOPE_API_KEY"],
        "base_url": args.base_url,
        "model": args.model,
        "max_retries": 0,
    }
    bare_server(settings).run()


if __name__ == "__main__":
    main()
