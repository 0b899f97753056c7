"""The ``qwen-ci`` command line: one face of the core, beside it (as httpx keeps its ``_main.py``).

``qwen-ci ask``, ``batch``, ``doctor``, ``models`` and ``emulator``; :func:`main` is the console
script and ``python -m qwen_ci_tool`` (or ``python -m qwen_ci_tool.cli``).
"""

from .main import main

__all__ = ["main"]
