"""The server's names and defaults, which need no MCP SDK: the command line reads them (``--help``,
``--version`` and a refused flag answer without importing the SDK, in a fraction of the time), and the
modules that use them import them from here."""

from __future__ import annotations

from typing import Final

SERVER_NAME = "qwen-ci-tool"
TOOL_NAME = "qwen_code_interpreter"
RESULT_TOOL_NAME: Final = "qwen_code_interpreter_result"

#: Seconds a call is held before a run still going is answered with its handle: under the 60 s
#: that many clients allow a request, whatever progress they get.
DEFAULT_MAX_WAIT = 50.0
#: Upstream calls running at once; further calls wait for a free slot (and say so in progress).
DEFAULT_MAX_CONCURRENCY = 4
#: Characters a result may send, text and structuredContent together (the text at most half).
DEFAULT_MAX_OUTPUT_CHARS = 40_000
#: Seconds a shutdown takes at most (calls in flight get them less a reserve: ``runs.deadline``).
DEFAULT_SHUTDOWN_GRACE = 30.0
