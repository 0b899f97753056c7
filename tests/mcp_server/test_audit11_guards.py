"""Behaviours audit 11 (issue 26) broke without a test failing, pinned: each test fails with its break."""

from __future__ import annotations

import json
import logging

import anyio

from mcp_server._logs import CALL_FIELDS, JSONFormatter
from mcp_server.http.cancels import Exchanges


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


async def test_an_exchange_aborted_before_its_handler_guards_the_call_cancels_the_guard_at_once() -> None:
    # A client's cancel (or hang-up) can come before the tool handler opens its guard: the guard opened
    # after it is cancelled at once, so the call does not run as if nobody had cancelled it.
    exchanges = Exchanges()
    with exchanges.open("client", 1) as exchange:
        exchange.abort("the client sent notifications/cancelled")
        with anyio.fail_after(5), exchange.guard() as scope:
            await anyio.sleep_forever()
    assert scope.cancel_called and exchange.reason == "the client sent notifications/cancelled"


async def test_the_server_forgets_each_http_request_once_it_ended_so_a_long_life_does_not_grow_it() -> None:
    # Requests are found by (client, JSON-RPC id) for cancels; each key goes once its last request
    # ended (ids are new on every request, so keeping empty keys would grow without end).
    exchanges = Exchanges()
    for request_id in range(100):
        with exchanges.open("client", request_id), exchanges.open("client", request_id):
            pass
    assert exchanges.cancel("client", 7, "the client sent notifications/cancelled") == 0
    assert exchanges._by_key == {}
