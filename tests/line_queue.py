"""A child process's output, line by line, for a test to wait on with a timeout: a daemon thread reads
the pipe and puts each line on a queue."""

from __future__ import annotations

import queue
import threading
from typing import IO


def line_queue(pipe: IO[str] | None) -> queue.Queue[str | None]:
    """The lines of *pipe* as they come, then None once it ends (it is closed then)."""
    assert pipe is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        with pipe:
            for line in pipe:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines
