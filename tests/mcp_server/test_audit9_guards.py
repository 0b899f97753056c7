"""Behaviours audit 9's misses showed no test checked (issue 26), MCP side. Each test fails with its break."""

from __future__ import annotations

import re

from mcp_server.runs import new_run_id


def test_a_run_handle_carries_144_random_bits_so_it_cannot_be_guessed() -> None:
    # Break (audit 9, m11): `secrets.token_urlsafe(8)` - 64 bits: a handle is what lets a caller read a
    # result (and, behind a shared store, any replica serve it), so it must stay out of guessing range.
    handles = {new_run_id() for _ in range(1000)}
    assert len(handles) == 1000
    assert all(re.fullmatch(r"run_[A-Za-z0-9_-]{24}", handle) for handle in handles)  # 18 bytes, base64url
