"""Secrets are compared in constant time: no ``==``/``!=`` between a secret and another value.

``token == presented`` returns as soon as a byte differs, so its timing tells an attacker how much of
a guess was right; ``hmac.compare_digest`` does not. ruff has no rule for this, so this test reads the
packages' syntax trees and names each comparison whose operands name a secret.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .source import parse

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("qwen_ci_tool", "mcp_server", "integrations")
SECRET_NAME = re.compile(r"(token|secret|api_key|apikey|password|bearer|credential)", re.IGNORECASE)
# Names that hold where a secret comes from or what it is called, never the secret itself.
NOT_SECRET = re.compile(r"(_env|_file|_name|_names|_path|_count|_kind|_hint|_flag|_ENV|_FILE|_NAME)$|^n_|tokens")


def _names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr, *_names(node.value)][:1]
    if isinstance(node, ast.Call):
        return _names(node.func)
    return []


def _is_secret(node: ast.expr) -> bool:
    return any(SECRET_NAME.search(name) and not NOT_SECRET.search(name) for name in _names(node))


def secret_comparisons(source: str, filename: str = "<string>") -> list[str]:
    """``file:line`` of every ``==``/``!=`` with a secret-named operand and a non-constant other side."""
    found = []
    for node in ast.walk(parse(source, filename)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            if not isinstance(op, ast.Eq | ast.NotEq):
                continue
            if isinstance(left, ast.Constant) or isinstance(right, ast.Constant):
                continue  # "is it set?" checks against None or "" leak nothing
            if _is_secret(left) or _is_secret(right):
                found.append(f"{filename}:{node.lineno}")
    return found


def test_no_package_compares_a_secret_with_equals() -> None:
    found = [
        hit
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for hit in secret_comparisons(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == [], f"compare secrets with hmac.compare_digest, not ==: {found}"


def test_the_check_catches_a_token_compared_with_equals() -> None:
    assert secret_comparisons("ok = presented_token == expected") == ["<string>:1"]
    assert secret_comparisons("if client.api_key != key: pass") == ["<string>:1"]
    assert secret_comparisons("ok = hmac.compare_digest(presented_token, expected)") == []
    assert secret_comparisons("missing = token == ''") == []
