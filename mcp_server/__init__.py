"""MCP server for qwen-ci-tool: ``qwen_code_interpreter`` (and, for long runs,
``qwen_code_interpreter_result``) over stdio or streamable HTTP.

```python
from mcp_server import create_server

server = create_server()        # key from DASHSCOPE_API_KEY; same settings as the core client
server.run()                    # stdio; or run `qwen-ci-mcp` / `python -m mcp_server`
```
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

# The names and defaults need no SDK; the rest is imported on first use (__getattr__).
from ._constants import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_OUTPUT_CHARS,
    DEFAULT_MAX_WAIT,
    RESULT_TOOL_NAME,
    SERVER_NAME,
    TOOL_NAME,
)

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


#: The third-party modules the server's code imports whatever its settings, besides the core's (httpx,
#: anyio): all come with the [mcp] extra. The redis client, also in it, is asked for only by a redis run store.
_EXTRA_MODULES = ("mcp", "mcp_types", "pydantic", "prometheus_client", "starlette", "uvicorn")


def _extra_not_found() -> str | None:
    """What to say when a module of :data:`_EXTRA_MODULES` is not installed, else ``None``: looked for
    without importing any, so that ``qwen-ci-mcp --help`` says what to install (and, with the extra,
    answers without the SDK's import)."""
    for module in _EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # a finder that refuses the name
            found = False
        if not found:
            return _missing_extra(ModuleNotFoundError(f"No module named {module!r}", name=module))
    return None


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
    from ._server import Runtime, create_server, server_runtime
