"""The emulator's waits that leak tests rely on say False when what they wait for does not happen:
a wait that always said True would let a test of a leaked connection pass (session 36's hand sweep)."""

from __future__ import annotations

import socket

import httpx
import pytest

from qwen_ci_tool.testing import Emulator

from ._requests import CHAT, HEADERS, TEXT_GENERATION, chat_body, native_body


def test_waiting_for_no_connection_fails_while_one_is_still_open() -> None:
    with Emulator() as emu:
        with (
            socket.create_connection((emu.host, emu.port), timeout=5),
            socket.create_connection((emu.host, emu.port), timeout=5),
        ):
            assert emu.wait_for_connections(2, timeout=5)
            assert emu.active_connections == 2
            assert emu.wait_for_connections(0, timeout=0.05) is False
            assert emu.wait_for_connections(1, timeout=0.05) is False

        assert emu.wait_for_connections(0, timeout=5)


def test_waiting_for_a_request_that_never_came_fails() -> None:
    with Emulator() as emu:
        assert emu.wait_for_requests(1, timeout=0.05) is False


@pytest.mark.parametrize("path", [CHAT, TEXT_GENERATION])
def test_a_key_sent_with_another_scheme_than_bearer_is_refused(path: str) -> None:
    # A client that sent "Basic <key>" (or no scheme) would fail against the service: so it must here.
    with Emulator() as emu:
        response = httpx.post(emu.base_url + path, headers={**HEADERS, "authorization": "Basic sk-test"}, json={})

    assert response.status_code == 401


def test_a_request_that_leaves_thinking_unset_is_refused_as_the_service_refuses_it() -> None:
    # The interpreter needs thinking mode: a client that forgot to send enable_thinking must fail here too.
    native = native_body()
    del native["parameters"]["enable_thinking"]
    chat = chat_body()
    del chat["enable_thinking"]
    with Emulator() as emu:
        refused = [
            httpx.post(emu.base_url + path, headers=HEADERS, json=body)
            for path, body in [(TEXT_GENERATION, native), (CHAT, chat)]
        ]

    assert [response.status_code for response in refused] == [400, 400]
    assert all("enable_thinking" in response.text for response in refused)


def test_a_native_request_for_a_result_format_other_than_message_is_refused() -> None:
    with Emulator() as emu:
        response = httpx.post(emu.base_url + TEXT_GENERATION, headers=HEADERS, json=native_body(result_format="text"))

    assert response.status_code == 400 and "result_format" in response.text
