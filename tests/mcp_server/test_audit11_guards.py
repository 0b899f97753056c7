"""Behaviours audit 11 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import json
import logging

from mcp_server._logs import CALL_FIELDS, JSONFormatter


def test_a_json_log_line_keeps_each_call_field_the_record_carries_even_when_null_or_zero() -> None:
    # A log pipeline reads the same keys on every call's line: a success's "error": null, a run's zero
    # tokens or an instant duration are values, not absent fields.
    record = logging.LogRecord("mcp_server", logging.INFO, __file__, 1, "qwen_code_interpreter completed", (), None)
    fields = {"outcome": "completed", "error": None, "duration_s": 0.0, "tokens": {}, "upstream_request_id": ""}
    for name, value in fields.items():
        setattr(record, name, value)
    entry = json.loads(JSONFormatter(lambda text: text).format(record))
    assert {name: entry[name] for name in fields} == fields
    assert "run_id" not in entry  # a field the record does not carry is left out
    assert set(fields) | {"run_id"} == set(CALL_FIELDS)
