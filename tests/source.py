"""Reading the project's own sources as syntax trees, for the tests that check the code itself."""

from __future__ import annotations

import ast


def parse(source: str, filename: str = "<string>") -> ast.Module:
    """``ast.parse``, once more when CPython 3.11 reports two threads parsing at once.

    python/cpython#106905: a parse in another thread (pytest rewriting a module a server thread
    imports) can make this one fail with "SystemError: AST constructor recursion depth mismatch";
    seen once in a full run on ``test_secret_comparisons``. The source is fine: a second parse reads it.
    """
    try:
        return ast.parse(source, filename)
    except SystemError:
        return ast.parse(source, filename)
