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
    "Runtime",
    "SERVER_NAME",
    "TOOL_NAME",
    "create_server",
    "server_runtime",
]


def _missing_extra(exc: ModuleNotFoundError) -> str | None:
    """What to say when importing the server failed for want of the ``[mcp]`` extra, else ``None``.

    The core's own dependencies were imported before the server's, so any other project's module
    missing here (``mcp``, ``uvicorn``, ``starlette``, ``prometheus_client``, ...) is the extra's.
    """
    top = (exc.name or "").partition(".")[0]
    if not top or top in {"qwen_ci_tool", "mcp_server", "integrations"}:
        return None
    return (
        f"the MCP server needs the optional [mcp] extra (module {top!r} is missing): pip install "
        "'qwen-ci-tool[mcp]', or with uv: uvx --from 'qwen-ci-tool[mcp]' qwen-ci-mcp"
    )


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `qwen-ci-mcp` without the [mcp] extra can say what to
    # install in one line (see __main__) instead of failing inside the package import.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import _server
    except ModuleNotFoundError as exc:
        if (message := _missing_extra(exc)) is None:
            raise
        raise ModuleNotFoundError(message[0].upper() + message[1:], name=exc.name) from exc
    return getattr(_server, name)


if TYPE_CHECKING:
    from ._server import DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_WAIT, Runtime, create_server, server_runtime
    from ._texts import RESULT_TOOL_NAME, SERVER_NAME, TOOL_NAME
    from .runs.results import DEFAULT_MAX_OUTPUT_CHARS
