"""create_server() inside someone else's application: it leaves their logging alone."""

from __future__ import annotations

import subprocess
import sys

EMBED = """
import logging
from mcp_server import create_server

create_server(api_key="sk-embedded", log_level="DEBUG")
root = logging.getLogger()
print(len(root.handlers), logging.getLevelName(root.level))
"""


def test_building_the_server_configures_no_logging_in_the_embedding_process() -> None:
    proc = subprocess.run([sys.executable, "-c", EMBED], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    # The root logger is as Python left it: no handler (rich or other), level WARNING.
    assert proc.stdout.split() == ["0", "WARNING"]
