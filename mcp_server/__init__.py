"""MCP server for qwen-ci-tool: ``qwen_code_interpreter`` (and, for long runs,
``qwen_code_interpreter_result``) over stdio or streamable HTTP.

```python
from mcp_server import create_server

server = create_server()        # key from DASHSCOPE_API_KEY; same settings as the core client
server.run()                    # stdio; or run `qwen-ci-mcp` / `python -m mcp_server`
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_OUTPUT_CHARS",
    "DEFAULT_MAX_WAIT",
    "RESULT_TOOL_NAME",
    "SERVER_NAME",
    "TOOL_NAME",
    "Runtime",
    "create_server",
    "server_runtime",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `qwen-ci-mcp` without the [mcp] extra can say what to
    # install in one line (see __main__) instead of failing inside the package import.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import _server
    except ModuleNotFoundError as exc:
        if exc.name is None or not (exc.name == "mcp" or exc.name.startswith("mcp.")):
            raise
        raise ModuleNotFoundError(
            "The MCP server needs the MCP SDK, an optional extra: pip install 'qwen-ci-tool[mcp]'", name=exc.name
        ) from exc
    return getattr(_server, name)


if TYPE_CHECKING:
    from ._server import (
        DEFAULT_MAX_CONCURRENCY,
        DEFAULT_MAX_OUTPUT_CHARS,
        DEFAULT_MAX_WAIT,
        RESULT_TOOL_NAME,
        SERVER_NAME,
        TOOL_NAME,
        Runtime,
        create_server,
        server_runtime,
    )
