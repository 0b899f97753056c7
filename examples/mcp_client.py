"""Call the qwen-ci MCP server over stdio, as an MCP client (Claude Desktop, Cursor, an agent) does.

    python examples/mcp_client.py "What is 123 to the power of 21?"   # needs DASHSCOPE_API_KEY
    python examples/mcp_client.py --emulator                          # local emulator, no key, no network

MCP clients start servers with an almost empty environment, so the key goes to the server
explicitly, in ``env`` - the same as the "env" block of a client's config file.
"""

import argparse
import asyncio
import os
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters

SEED_QUESTION = "What is 123 to the power of 21?"
# Run from a checkout or an installed package alike: `python -m mcp_server` from the repository root.
REPO = Path(__file__).resolve().parent.parent


async def main(question: str, emulator: bool) -> int:
    env = {"DASHSCOPE_API_KEY": os.environ.get("DASHSCOPE_API_KEY", "")}
    args = ["-m", "mcp_server"]
    if emulator:
        env, args = {}, [*args, "--emulator"]  # the server's keyless trial: no key, no network
    elif not env["DASHSCOPE_API_KEY"]:
        print("Set DASHSCOPE_API_KEY, or pass --emulator to use the local emulator.", file=sys.stderr)
        return 2
    server = StdioServerParameters(command=sys.executable, args=args, env=env, cwd=REPO)

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        print(f"  [{progress:g}] {message}", file=sys.stderr)

    async with Client(server) as client:
        tools = await client.list_tools()
        # What a client shows: each tool's title (and icon), and whether it only reads.
        for tool in tools.tools:
            hints = tool.annotations
            kind = "read-only" if hints and hints.read_only_hint else "may change things"
            icons = ", ".join(icon.mime_type or "?" for icon in tool.icons or [])
            print(f"tool {tool.name}: {tool.title!r}, {kind}, icons: {icons or 'none'}", file=sys.stderr)
        result = await client.call_tool("qwen_code_interpreter", {"question": question}, progress_callback=on_progress)

    for block in result.content:
        if block.type == "text":
            print(block.text)
    if result.is_error:
        return 1
    record = result.structured_content or {}
    print(f"structuredContent: answer={record['answer']!r}, {record['usage']['total_tokens']} tokens")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default=SEED_QUESTION)
    parser.add_argument("--emulator", action="store_true", help="answer from the local emulator (no key needed)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.question, args.emulator)))
