"""`qwen-ci doctor` against the emulator: each check, its fix, and the exit code."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from qwen_ci_tool import _constants
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.doctor import _documented, _unreachable
from qwen_ci_tool.testing import Emulator, Fault

from ..conftest import PLANTED_KEY


def doctor(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["doctor", *argv], stdout=out, stderr=io.StringIO())
    return code, out.getvalue()


def lines(report: str) -> dict[str, str]:
    """Check name -> its line (and its fix line, if any)."""
    found: dict[str, str] = {}
    name = ""
    for line in report.splitlines():
        if line.startswith("  ["):
            name = line.split("] ", 1)[1].split(":", 1)[0]
            found[name] = line
        elif line.strip().startswith("fix:"):
            found[name] += "\n" + line
    return found


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    return PLANTED_KEY


def test_every_check_passes_against_the_emulator_and_no_tokens_are_spent(key: str) -> None:
    with Emulator(api_key=key) as emu:
        code, out = doctor("--base-url", emu.base_url)
        requests = emu.requests
    checks = lines(out)
    assert code == 0, out
    assert list(checks) == [
        "API key present",
        "endpoint reachable",
        "key accepted",
        "model listed",
        "protocol documented",
    ]
    assert all("[ok" in line for line in checks.values()), out
    assert [(r.method, r.path) for r in requests] == [("GET", "/compatible-mode/v1/models")]
    assert "no tokens were used" in out and key not in out


def test_a_refused_key_fails_with_the_fix_and_the_key_is_never_shown(key: str) -> None:
    with Emulator(api_key="sk-the-right-one") as emu:
        code, out = doctor("--base-url", emu.base_url)
    checks = lines(out)
    assert code == 1
    assert "[FAIL] key accepted" in checks["key accepted"] and "invalid_api_key" in checks["key accepted"]
    assert "fix: Copy the key again into the DASHSCOPE_API_KEY environment variable" in checks["key accepted"]
    assert "[skip]" in checks["model listed"]
    assert key not in out


def test_a_refused_key_from_a_file_is_named_as_that_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "key").write_text(PLANTED_KEY)
    monkeypatch.setenv("DASHSCOPE_API_KEY_FILE_PATH", str(tmp_path / "key"))
    with Emulator(api_key="sk-the-right-one") as emu:
        code, out = doctor("--base-url", emu.base_url)
    checks = lines(out)
    assert code == 1
    assert "fix: Copy the key again into the file that DASHSCOPE_API_KEY_FILE_PATH names" in checks["key accepted"]
    assert PLANTED_KEY not in out


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, Emulator]]:
    """Two emulators standing for the two regions' roots, each accepting only its own key."""
    with Emulator(api_key="sk-beijing") as beijing, Emulator(api_key="sk-singapore") as singapore:
        monkeypatch.setattr(_constants, "REGION_ROOTS", {"beijing": beijing.base_url, "singapore": singapore.base_url})
        yield beijing, singapore


def test_a_key_of_the_other_region_is_named_with_the_flag_that_fixes_it(
    regions: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    beijing, singapore = regions
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-singapore")
    code, out = doctor("--region", "beijing")
    check = lines(out)["key accepted"]
    assert code == 1
    assert "the Singapore region" in check and "use --region singapore" in check
    assert len(beijing.requests) == 1 and len(singapore.requests) == 1, "one model-list request per region"

    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-singapore")
    assert doctor("--region", "singapore")[0] == 0


def test_a_key_no_region_accepts_says_so(regions: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-nowhere")
    code, out = doctor("--region", "singapore")
    assert code == 1 and "no other region accepts it either" in lines(out)["key accepted"]


@pytest.mark.parametrize("status", [403, 503])
def test_another_region_that_answers_anything_but_200_is_not_said_to_accept_the_key(
    regions: tuple[Emulator, Emulator], monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    # Only a 200 there shows the key belongs there; a refusal of another kind or a failing region does not.
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-nowhere")
    regions[1].add_fault(Fault.status(status))
    code, out = doctor("--region", "beijing")
    check = lines(out)["key accepted"]
    assert code == 1 and "no other region accepts it either" in check and "accepts it\n" not in check
    assert "--region singapore" not in check


def test_without_a_key_the_fix_names_the_variable_and_the_endpoint_is_still_checked(emu: Emulator) -> None:
    code, out = doctor("--base-url", emu.base_url)
    checks = lines(out)
    assert code == 1
    assert (
        "[FAIL] API key present" in checks["API key present"]
        and "export DASHSCOPE_API_KEY=" in checks["API key present"]
    )
    assert "[ok" in checks["endpoint reachable"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_endpoint_is_named(key: str) -> None:
    code, out = doctor("--base-url", f"http://127.0.0.1:{_closed_port()}")
    check = lines(out)["endpoint reachable"]
    assert code == 1 and "connection refused" in check and "fix: Check --base-url" in check
    assert "[skip]" in lines(out)["key accepted"]


@contextmanager
def one_connection(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A server on a free port that takes one connection and hands it to *answer*, with an event set
    when the test is over; the port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    done = threading.Event()

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            answer(conn, done)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        done.set()
        thread.join(5)
        server.close()


@pytest.fixture
def not_tls() -> Iterator[int]:
    """A server that answers a TLS handshake with plain HTTP, as a misconfigured port does."""

    def answer(conn: socket.socket, done: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        done.wait(5)

    with one_connection(answer) as port:
        yield port


def test_a_tls_failure_is_named(key: str, not_tls: int) -> None:
    code, out = doctor("--base-url", f"https://127.0.0.1:{not_tls}")
    check = lines(out)["endpoint reachable"]
    assert code == 1 and "TLS handshake" in check and "SSL_CERT_FILE" in check


def test_a_proxy_that_fails_is_named(key: str, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://user:pw@127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    code, out = doctor("--base-url", emu.base_url)
    check = lines(out)["endpoint reachable"]
    assert code == 1 and "the proxy http://127.0.0.1:" in check and "HTTP_PROXY" in check
    assert "pw" not in out, "proxy credentials are not shown"


def test_a_gateway_page_instead_of_the_service_is_named(key: str, emu: Emulator) -> None:
    emu.add_fault(Fault.status(502, body="html"))
    code, out = doctor("--base-url", emu.base_url)
    assert code == 1 and "not the service's JSON" in lines(out)["endpoint reachable"]


def test_a_captive_portal_page_with_200_is_not_taken_for_the_service(key: str, emu: Emulator) -> None:
    emu.add_fault(Fault.content_type())
    code, out = doctor("--base-url", emu.base_url)
    checks = lines(out)
    assert code == 1, out
    assert "HTTP 200 with text/html" in checks["endpoint reachable"] and "[FAIL]" in checks["endpoint reachable"]
    assert "skip" in checks["key accepted"] and "ready" not in out.splitlines()[-1]


def test_a_model_the_service_does_not_list_fails_with_close_names(key: str) -> None:
    with Emulator(api_key=key) as emu:
        code, out = doctor("--base-url", emu.base_url, "--model", "qwen3-maxx")
    check = lines(out)["model listed"]
    assert code == 1 and "[FAIL]" in check and "Close names it lists: qwen3-max" in check


def test_a_table_model_the_list_lacks_is_a_warning_since_the_list_may_lag(key: str) -> None:
    with Emulator(api_key=key, unknown_models=["qwen3-max-preview"]) as emu:
        code, out = doctor("--base-url", emu.base_url, "--model", "qwen3-max-preview")
    check = lines(out)["model listed"]
    assert code == 0 and "[warn]" in check and "only a call tells" not in check and "qwen-ci ask" in check


def test_a_pair_the_documents_do_not_show_is_advice_not_failure(key: str) -> None:
    with Emulator(api_key=key) as emu:
        code, out = doctor("--base-url", emu.base_url, "--model", "qwen3.6-max", "--protocol", "openai")
        disputed = doctor("--base-url", emu.base_url, "--model", "qwen3.7-plus")[1]
    check = lines(out)["protocol documented"]
    assert code == 0, out
    assert "[warn]" in check and "try --protocol responses" in check
    assert "documents disagree about 'dashscope'" in lines(disputed)["protocol documented"]
    assert "native path multimodal-generation" in lines(disputed)["protocol documented"]


def test_json_output_lists_the_checks(key: str) -> None:
    with Emulator(api_key=key) as emu:
        code, out = doctor("--base-url", emu.base_url, "--json")
    data = json.loads(out)
    assert code == 0 and [c["status"] for c in data] == ["ok"] * 5


def test_the_installed_command_exits_1_for_a_refused_key(emu: Emulator) -> None:
    with Emulator(api_key="sk-right") as strict:
        proc = subprocess.run(
            [sys.executable, "-m", "qwen_ci_tool.cli", "doctor", "--base-url", strict.base_url],
            env={"DASHSCOPE_API_KEY": "sk-wrong", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1 and "key accepted" in proc.stdout and "sk-wrong" not in proc.stdout + proc.stderr


def test_an_error_without_a_code_is_shown_by_its_type(key: str) -> None:
    body = b'{"error": {"type": "invalid_request_error", "message": "no model list here"}}'
    with Emulator(api_key=key) as emu:
        emu.add_fault(Fault.status(404, body=body))
        _, out = doctor("--base-url", emu.base_url)
    checks = lines(out)
    assert "HTTP 404 invalid_request_error: no model list here" in checks["key accepted"], out


def test_a_connection_that_times_out_is_told_with_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # audit 6's l04: the fix it names is --connect-timeout, so the seconds shown must be that setting's.
    for proxy in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    settings = resolve_settings(api_key="sk-x", env={}, connect_timeout=2.5, idle_timeout=75)
    check = _unreachable(httpx.ConnectTimeout("timed out"), settings.base_url, settings)
    assert check.status == "fail" and check.detail.endswith("within 2.5 s") and "--connect-timeout" in check.fix


@pytest.mark.parametrize(("region", "warned"), [("beijing", False), ("singapore", False), ("virginia", True)])
def test_only_a_region_the_documents_do_not_show_the_interpreter_in_is_warned_about(region: str, warned: bool) -> None:
    # audit 6's l05
    settings = resolve_settings(api_key="sk-x", env={}, region=region)
    check = _documented(settings, _constants.REGION_ROOTS)
    assert ("is undocumented (the documents show Beijing and Singapore)" in check.detail) is warned
    if warned:
        assert check.status == "warn" and "Virginia region" in check.detail
