"""MCP server for qwen-ci-tool: one tool, ``qwen_code_interpreter``, over stdio or streamable HTTP.

```python
from mcp_server import create_server

server = create_server()        # key from DASHSCOPE_API_KEY; same settings as the core client
server.run()                    # stdio; or run `qwen-ci-mcp` / `python -m mcp_server`
```
"""

from __future__ import annotations

from ._server import DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_OUTPUT_CHARS, SERVER_NAME, TOOL_NAME, create_server

__all__ = ["DEFAULT_MAX_CONCURRENCY", "DEFAULT_MAX_OUTPUT_CHARS", "SERVER_NAME", "TOOL_NAME", "create_server"]
