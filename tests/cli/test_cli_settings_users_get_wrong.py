"""`qwen-ci` against what the live service sends and the environments users have (issue 23): a
model the account may not use, a used-up token plan, a SOCKS proxy, the US region, and the
doctor's fixes naming the flag."""

from __future__ import annotations

import importlib
import socket
import sys
from collections.abc import Iterator

import pytest

from qwen_ci_tool import _constants
from qwen_ci_tool.testing import SEED_QUESTION, Emulator, Fault

from ..conftest import PLANTED_KEY
from .test_cli import cli
from .test_doctor import doctor, lines

pytestmark = pytest.mark.usefixtures("no_backoff")

PROXY_VARIABLES = ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    return PLANTED_KEY


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_ask_for_a_model_the_account_may_not_use_names_the_model_and_the_flag() -> None:
    code, _, err = cli("ask", "--emulator", "--model", "qwen3.8-max", f"{SEED_QUESTION} #fault=model_access_denied")
    assert code == 1
    assert "Model.AccessDenied" in err and "'qwen3.8-max'" in err and "choose another model (--model)" in err
    assert "Model Studio console" in err and "API key" not in err and "--region" not in err


def test_ask_with_a_used_up_token_plan_fails_once_and_says_when_it_resets(emu: Emulator, key: str) -> None:
    emu.add_fault(Fault.named("token_plan_quota_reset"), times=5)
    code, _, err = cli("ask", "--base-url", emu.base_url, "--max-retries", "3", SEED_QUESTION)
    assert code == 1 and len(emu.requests) == 1
    assert "08-12 14:52:00 UTC" in err and "will not help" in err and PLANTED_KEY not in err


def test_ask_retries_a_resource_exhausted_rate_limit(emu: Emulator, key: str) -> None:
    emu.add_fault(Fault.named("resource_exhausted"), times=1)
    code, _, _ = cli("ask", "--base-url", emu.base_url, SEED_QUESTION)
    assert code == 0 and len(emu.requests) == 2


# --- SOCKS proxies ---------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def without_socksio(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine where the `socks` extra is not installed (for httpx's check only).

    httpx imports httpcore lazily, on its first client, and httpcore decides once, at its import,
    whether it has SOCKS support (else it keeps a stand-in class that fails every SOCKS proxy). So
    httpcore is imported here first, with the real `socksio`: hiding it must not leak into a later
    test that uses the extra, whatever the order the tests run in."""
    importlib.import_module("httpcore")
    monkeypatch.setitem(sys.modules, "socksio", None)  # `import socksio` raises ImportError


@pytest.mark.usefixtures("no_proxies", "without_socksio")
@pytest.mark.parametrize("variable", ["ALL_PROXY", "HTTPS_PROXY", "all_proxy"])
@pytest.mark.parametrize("command", ["ask", "doctor"])
def test_a_socks_proxy_without_the_extra_is_a_usage_error_naming_the_variable_and_the_extra(
    monkeypatch: pytest.MonkeyPatch, key: str, variable: str, command: str
) -> None:
    monkeypatch.setenv(variable, "socks5://alice:s3cret-pw@127.0.0.1:1080")
    argv = ["ask", "--emulator", SEED_QUESTION] if command == "ask" else ["doctor", "--base-url", "http://127.0.0.1:9"]
    code, out, err = cli(*argv)
    assert code == 2, (out, err)
    assert f"{variable} routes connections through the SOCKS proxy socks5://127.0.0.1:1080" in err
    assert "pip install 'qwen-ci-tool[socks]'" in err
    assert "s3cret-pw" not in out + err and "alice" not in out + err and "Traceback" not in err


@pytest.mark.usefixtures("no_proxies")
def test_a_proxy_of_an_unknown_kind_is_a_usage_error_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks4://bob:pw-4@127.0.0.1:1080")
    code, out, err = cli("ask", "--emulator", SEED_QUESTION)
    assert code == 2 and "HTTPS_PROXY names a proxy of an unsupported kind: socks4://127.0.0.1:1080" in err
    assert "pw-4" not in out + err


@pytest.mark.usefixtures("no_proxies")
def test_a_proxy_password_containing_an_at_sign_is_never_shown(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks4://bob:pw@4-secret@127.0.0.1:1080")
    code, out, err = cli("ask", "--emulator", SEED_QUESTION)
    assert code == 2 and "HTTPS_PROXY names a proxy of an unsupported kind: socks4://127.0.0.1:1080" in err
    assert "4-secret" not in out + err


@pytest.mark.usefixtures("no_proxies")
def test_with_the_socks_extra_the_doctor_names_a_socks_proxy_that_fails(
    monkeypatch: pytest.MonkeyPatch, key: str, emu: Emulator
) -> None:
    pytest.importorskip("socksio")  # the dev install has the `socks` extra
    port = _closed_port()
    monkeypatch.setenv("ALL_PROXY", f"socks5://alice:s3cret-pw@127.0.0.1:{port}")
    code, out = doctor("--base-url", emu.base_url)
    check = lines(out)["endpoint reachable"]
    assert code == 1 and f"the proxy socks5://127.0.0.1:{port}" in check and "ALL_PROXY" in check
    assert "s3cret-pw" not in out and len(emu.requests) == 0


@pytest.mark.usefixtures("no_proxies")
def test_with_the_socks_extra_ask_through_a_dead_socks_proxy_is_a_connection_error(
    monkeypatch: pytest.MonkeyPatch, key: str, emu: Emulator
) -> None:
    pytest.importorskip("socksio")
    monkeypatch.setenv("ALL_PROXY", f"socks5://alice:s3cret-pw@127.0.0.1:{_closed_port()}")
    code, out, err = cli("ask", "--base-url", emu.base_url, "--max-retries", "0", SEED_QUESTION)
    assert code == 1 and "Could not connect" in err and "Traceback" not in err
    assert "s3cret-pw" not in out + err and len(emu.requests) == 0


# --- regions and the doctor's wording ----------------------------------------------------------


@pytest.fixture
def three_regions(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Emulator]]:
    """Three emulators standing for the regions' roots, each accepting only its own key."""
    with (
        Emulator(api_key="sk-beijing") as beijing,
        Emulator(api_key="sk-singapore") as singapore,
        Emulator(api_key="sk-virginia") as virginia,
    ):
        emus = {"beijing": beijing, "singapore": singapore, "virginia": virginia}
        monkeypatch.setattr(_constants, "REGION_ROOTS", {name: e.base_url for name, e in emus.items()})
        yield emus


@pytest.mark.parametrize("region", ["us", "virginia"])
def test_the_doctor_reaches_the_us_root_by_region_and_warns_the_interpreter_is_undocumented_there(
    three_regions: dict[str, Emulator], monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-virginia")
    code, out = doctor("--region", region)
    checks = lines(out)
    assert code == 0, out
    assert "[ok" in checks["key accepted"] and len(three_regions["virginia"].requests) == 1
    documented = checks["protocol documented"]
    assert "[warn]" in documented and "the Virginia region" in documented and "undocumented" in documented
    assert "--region singapore" in documented


def test_the_doctor_finds_a_us_key_used_at_the_beijing_root(
    three_regions: dict[str, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-virginia")
    code, out = doctor()
    check = lines(out)["key accepted"]
    assert code == 1 and "the Virginia region" in check and "use --region virginia" in check


def test_ask_reaches_the_us_root_by_region(three_regions: dict[str, Emulator], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-virginia")
    code, _, _ = cli("ask", "--region", "us", SEED_QUESTION)
    assert code == 0 and len(three_regions["virginia"].requests) == 1
    assert not three_regions["beijing"].requests and not three_regions["singapore"].requests


@pytest.mark.usefixtures("no_proxies")
def test_the_doctors_fixes_name_the_base_url_flag(key: str, emu: Emulator) -> None:
    emu.add_fault(Fault.status(502, body="html"))
    _, gateway = doctor("--base-url", emu.base_url)
    with Emulator(api_key="sk-the-right-one") as strict:
        _, refused = doctor("--base-url", strict.base_url)
    for text in (lines(gateway)["endpoint reachable"], lines(refused)["key accepted"]):
        fix = text.split("fix:", 1)[1]
        assert "--base-url" in fix and "base_url" not in fix.replace("--base-url", ""), fix


def test_ask_with_a_blank_model_names_the_flag(key: str) -> None:
    code, out, err = cli("ask", "--model", "   ", SEED_QUESTION)
    assert code == 2 and out == "" and "Invalid model: '   '. --model must be a non-empty model name" in err


# --- base URLs that cannot work ------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://[::1", "http://127.0.0.1:port", "http://"])
def test_ask_with_a_base_url_httpx_cannot_parse_is_refused_before_sending(key: str, url: str) -> None:
    code, out, err = cli("ask", "--base-url", url, SEED_QUESTION)
    assert code == 2 and out == ""
    assert f"Invalid base URL {url!r}" in err and "--base-url must be an http(s) URL" in err
    assert "Traceback" not in err and "Asking" not in err


def test_ask_with_credentials_in_the_base_url_is_refused_without_showing_them(key: str, emu: Emulator) -> None:
    netloc = emu.base_url.split("://", 1)[1]
    code, out, err = cli("ask", "--base-url", f"http://user:{PLANTED_KEY}@{netloc}", SEED_QUESTION)
    assert code == 2 and out == "" and emu.requests == []
    assert "contains credentials (user:password@)" in err and "put the key in DASHSCOPE_API_KEY" in err
    assert PLANTED_KEY not in err and "Asking" not in err
