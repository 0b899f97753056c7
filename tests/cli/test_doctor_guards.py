"""`qwen-ci doctor` guards from the mutation sweep (issue 26): each check's status and words for every
kind of answer (none, a stranger's page, a refusal, an error body, a model list), the request it sends,
and the report's verdict - each test checked to fail with the break it guards."""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from qwen_ci_tool import _constants
from qwen_ci_tool._config import resolve_settings
from qwen_ci_tool._protocols._base import USER_AGENT
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.doctor import _documented, _unreachable
from qwen_ci_tool.testing import Emulator
from qwen_ci_tool.testing._endpoints import LISTED_MODELS

from ..conftest import PLANTED_KEY
from .test_doctor import one_connection

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
CHECK_NAMES = ("API key present", "endpoint reachable", "key accepted", "model listed", "protocol documented")


def doctor(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["doctor", *argv], stdout=out, stderr=io.StringIO())
    return code, out.getvalue()


def checks_of(*argv: str) -> tuple[int, dict[str, dict[str, str]]]:
    """The exit code and ``--json``'s checks by name."""
    code, out = doctor(*argv, "--json")
    listed = json.loads(out)
    assert [c["name"] for c in listed] == list(CHECK_NAMES), out
    return code, {c["name"]: c for c in listed}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return PLANTED_KEY


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Canned:
    """A loopback HTTP server answering every GET with one set answer (status, content type, body)."""

    def __init__(self) -> None:
        self.status, self.content_type, self.body = 200, "application/json", b"{}"
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response_only(canned.status)
                if canned.content_type:
                    self.send_header("Content-Type", canned.content_type)
                self.send_header("Content-Length", str(len(canned.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(canned.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
        self.status, self.content_type = status, content_type
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    thread.join(5)


# --- what the one request carries -----------------------------------------------------------------


def test_the_model_list_request_carries_the_key_as_a_bearer_the_workspace_and_asks_for_json(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_WORKSPACE_ID", "ws-1234")
    with Emulator(api_key=key) as emu:
        assert doctor("--base-url", emu.base_url)[0] == 0
        (request,) = emu.requests
    assert request.headers["authorization"] == f"Bearer {key}"
    assert request.headers["x-dashscope-workspace"] == "ws-1234"
    assert request.headers["accept"] == "application/json" and request.headers["user-agent"] == USER_AGENT


# --- each check's words when all is well, and the report's verdict --------------------------------


def test_every_check_names_what_it_saw_when_all_is_well_and_the_report_says_ready(key: str) -> None:
    with Emulator(api_key=key) as emu:
        root = emu.base_url
        code, checks = checks_of("--base-url", root, "--protocol", "openai")
        _, raw = doctor("--base-url", root, "--json")
        _, report = doctor("--base-url", root)
    assert code == 0
    assert checks["API key present"] == {
        "name": "API key present",
        "status": "ok",
        "detail": "set (it is never shown)",
        "fix": "",
    }
    assert checks["endpoint reachable"]["detail"] == f"{root} answered (HTTP 200)"
    assert checks["key accepted"]["detail"] == f"{root} accepted it"
    assert checks["model listed"]["detail"] == f"'qwen3-max' is in the service's list ({len(LISTED_MODELS)} models)"
    documented = checks["protocol documented"]
    assert documented["detail"] == "the documents show 'qwen3-max' with the interpreter over 'openai'"  # no native path
    assert raw.startswith('[\n  {\n    "name": "API key present",\n    "status": "ok",\n    "detail": ')
    assert report.splitlines()[-1] == "ready (the doctor asked the service's model list only: no tokens were used)"
    assert "fix:" not in report


def test_a_failing_report_says_some_checks_failed_and_shows_no_empty_fix_under_a_skipped_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with Emulator() as emu:
        code, report = doctor("--base-url", emu.base_url)
    assert code == 1
    assert report.splitlines()[-1].startswith("some checks failed (the doctor asked")
    skipped = [n for n, line in enumerate(report.splitlines()) if line.startswith("  [skip]")]
    assert len(skipped) == 2 and all("fix:" not in report.splitlines()[n + 1] for n in skipped)


def test_without_a_key_the_missing_key_names_both_places_and_the_key_checks_are_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with Emulator() as emu:
        code, checks = checks_of("--base-url", emu.base_url)
    assert code == 1
    missing = checks["API key present"]
    assert missing["status"] == "fail"
    assert missing["detail"] == "no key in DASHSCOPE_API_KEY (nor in a file named by DASHSCOPE_API_KEY_FILE_PATH)"
    assert missing["fix"].startswith("export DASHSCOPE_API_KEY=sk-... (a Model Studio key of the region you call)")
    for name in ("key accepted", "model listed"):
        assert (checks[name]["status"], checks[name]["detail"]) == ("skip", "no key to try")


# --- no answer, or not the service's -------------------------------------------------------------


def test_an_endpoint_refusing_connections_is_named_and_the_key_checks_are_skipped(key: str) -> None:
    root = f"http://127.0.0.1:{_closed_port()}"
    code, checks = checks_of("--base-url", root)
    reachable = checks["endpoint reachable"]
    assert code == 1 and reachable["status"] == "fail"
    assert reachable["detail"] == f"Could not connect to {root}: connection refused"
    assert reachable["fix"] == "Check --base-url (and that the emulator runs, if you use one)."
    for name in ("key accepted", "model listed"):
        assert (checks[name]["status"], checks[name]["detail"]) == ("skip", "the endpoint is not reachable")


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that takes the connection and answers only after 3 s (or when the test ends): a stalled
    gateway. A request that waits its connect timeout gives up long before."""

    def answer(conn: socket.socket, done: threading.Event) -> None:
        done.wait(3)
        body = b'{"data": []}'
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        with contextlib.suppress(OSError):
            conn.sendall(head.encode() + body)

    with one_connection(answer) as port:
        yield f"http://127.0.0.1:{port}"


def test_an_endpoint_that_does_not_answer_within_the_connect_timeout_is_named_with_its_seconds(
    key: str, silent: str
) -> None:
    code, checks = checks_of("--base-url", silent, "--connect-timeout", "0.25")
    reachable = checks["endpoint reachable"]
    assert code == 1 and reachable["status"] == "fail"
    assert reachable["detail"] == f"no answer from {silent} within 0.25 s"
    assert reachable["fix"] == "Check the network, any proxy and --base-url; raise --connect-timeout on a slow link."


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A server that closes every connection without answering."""

    def answer(conn: socket.socket, done: threading.Event) -> None:
        # The request read first, so that the close is an orderly end rather than a reset.
        conn.settimeout(5)
        received = b""
        while b"\r\n\r\n" not in received and (chunk := conn.recv(65536)):
            received += chunk

    with one_connection(answer) as port:
        yield f"http://127.0.0.1:{port}"


def test_an_endpoint_that_hangs_up_without_answering_is_named_with_what_happened(key: str, hangs_up: str) -> None:
    code, checks = checks_of("--base-url", hangs_up)
    reachable = checks["endpoint reachable"]
    assert code == 1 and reachable["status"] == "fail"
    assert reachable["detail"] == f"{hangs_up}: Server disconnected without sending a response.", reachable
    assert reachable["fix"] == "Check the network, proxy and --base-url."


def test_a_proxy_error_without_a_proxy_in_the_environment_names_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = resolve_settings(api_key="sk-x", env={})
    check = _unreachable(httpx.ProxyError("407 Proxy Authentication Required"), settings.base_url, settings)
    assert check.detail == f"the proxy between you and {settings.base_url} failed: 407 Proxy Authentication Required"
    assert check.fix.startswith("Check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (and NO_PROXY)")


@pytest.mark.parametrize(
    "root", ["http://127.0.0.1:{port}/gateway:v1/api", "http://[::1]:{port}"], ids=["colon-in-path", "ipv6"]
)
def test_an_endpoint_no_proxy_exempts_is_not_blamed_on_the_proxy(
    key: str, monkeypatch: pytest.MonkeyPatch, root: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,::1")
    with socket.socket(socket.AF_INET6 if "[" in root else socket.AF_INET) as s:
        s.bind(("::1" if "[" in root else "127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: the connection is refused
    code, checks = checks_of("--base-url", root.format(port=port))
    reachable = checks["endpoint reachable"]
    assert code == 1 and "connection refused" in reachable["detail"], reachable
    assert "proxy" not in reachable["detail"] and "PROXY" not in reachable["fix"]


@pytest.mark.parametrize(
    ("status", "content_type", "shown"),
    [
        (502, "text/html", "answered HTTP 502 with text/html, not the service's JSON"),
        (502, "", "answered HTTP 502 with no content type, not the service's JSON"),
        (302, "text/html", "answered HTTP 302 with text/html, not the service's JSON"),  # a login redirect
        (
            407,
            "text/html",
            "answered HTTP 407 with text/html, not the service's JSON (the proxy asks for authentication)",
        ),
    ],
)
def test_a_page_that_is_not_the_services_json_is_named_with_its_status_and_type(
    key: str, canned: Canned, status: int, content_type: str, shown: str
) -> None:
    canned.answer(status, b"<html>gateway</html>", content_type)
    code, checks = checks_of("--base-url", canned.base_url)
    reachable = checks["endpoint reachable"]
    assert code == 1 and reachable["status"] == "fail"
    assert reachable["detail"] == f"{canned.base_url} {shown}"
    if status == 407:
        assert reachable["fix"].startswith("Check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY")
    else:
        assert reachable["fix"] == (
            "A proxy or a wrong --base-url answered: check --base-url (the service root, e.g. https://dashscope.aliyuncs.com)."
        )
    for name in ("key accepted", "model listed"):
        assert (checks[name]["status"], checks[name]["detail"]) == (
            "skip",
            "the endpoint did not answer as the service",
        )


# --- what the model list answered ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"code": "NotFound"}, "HTTP 404 NotFound"),
        ({"message": "no such path"}, "HTTP 404: no such path"),
        ({"error": "gone", "code": "Gone", "message": "moved"}, "HTTP 404 Gone: moved"),
        (["not", "an", "object"], "HTTP 404"),
        (
            {"error": {"code": None, "type": "invalid_request_error", "message": "m"}},
            "HTTP 404 invalid_request_error: m",
        ),
        ({"code": "Gone", "message": None}, "HTTP 404 Gone"),
    ],
)
def test_an_error_the_model_list_answers_is_told_as_could_not_tell_with_its_code_and_message(
    key: str, canned: Canned, body: Any, why: str
) -> None:
    canned.answer(404, body)
    code, checks = checks_of("--base-url", canned.base_url)
    accepted = checks["key accepted"]
    assert code == 0 and accepted["status"] == "warn"
    assert accepted["detail"] == f"could not tell: the model list answered {why}"
    assert accepted["fix"].startswith("This host may not offer the model list; `qwen-ci ask` with a short question")
    assert (checks["model listed"]["status"], checks["model listed"]["detail"]) == ("skip", "no model list")


def test_a_key_refused_with_403_by_no_regions_root_names_the_workspace_and_skips_the_model(
    key: str, canned: Canned
) -> None:
    canned.answer(403, {"code": "AccessDenied", "message": "workspace"})
    code, checks = checks_of("--base-url", canned.base_url)
    refused = checks["key accepted"]
    assert code == 1 and refused["status"] == "fail"
    assert refused["detail"] == f"{canned.base_url} refused it (HTTP 403 AccessDenied: workspace)"
    assert (
        "Keys are per region: this --base-url is no region's root, so the other regions were not asked"
        in refused["fix"]
    )
    assert (checks["model listed"]["status"], checks["model listed"]["detail"]) == ("skip", "the key was refused")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"data": []}, "the service's model list was empty or unreadable"),
        (["qwen3-max"], "the service's model list was empty or unreadable"),
        (
            {"data": ["qwen3-max", {"id": 5}, {"object": "model"}, {"id": "qwen3-max"}, {"id": "qwen-plus"}]},
            "'qwen3-max' is in the service's list (2 models)",
        ),
    ],
    ids=["empty", "not-an-object", "odd-entries"],
)
def test_only_well_formed_entries_of_the_model_list_count(key: str, canned: Canned, body: Any, detail: str) -> None:
    canned.answer(200, body)
    code, checks = checks_of("--base-url", canned.base_url)
    listed = checks["model listed"]
    assert code == 0 and checks["endpoint reachable"]["status"] == "ok" and checks["key accepted"]["status"] == "ok"
    assert listed["detail"] == detail and listed["status"] == ("ok" if "2 models" in detail else "skip")


def test_a_200_that_is_not_json_is_not_taken_for_the_service(key: str, canned: Canned) -> None:
    canned.answer(200, b"not json", "text/plain")
    code, checks = checks_of("--base-url", canned.base_url)
    assert code == 1 and checks["endpoint reachable"]["status"] == "fail"
    assert "HTTP 200 with text/plain" in checks["endpoint reachable"]["detail"]
    assert checks["model listed"]["status"] == "skip"


def test_a_model_not_listed_names_at_most_three_close_names_and_the_flag(key: str, canned: Canned) -> None:
    ids = ["qwen3-maxa", "qwen3-maxb", "qwen3-maxc", "qwen3-maxd", "qwen-plus"]
    canned.answer(200, {"data": [{"id": i} for i in ids]})
    code, checks = checks_of("--base-url", canned.base_url, "--model", "qwen3-maxx")
    listed = checks["model listed"]
    assert code == 1 and listed["status"] == "fail"
    assert listed["detail"] == f"'qwen3-maxx' is not among the 5 models {canned.base_url} lists"
    close = ", ".join(difflib.get_close_matches("qwen3-maxx", ids, n=3))
    assert (
        listed["fix"]
        == f"Check the model name (--model; `qwen-ci models` shows the table). Close names it lists: {close}."
    )
    assert close.count(", ") == 2


def test_a_model_nothing_resembles_gets_no_close_names(key: str, canned: Canned) -> None:
    canned.answer(200, {"data": [{"id": "qwen-plus"}]})
    _, checks = checks_of("--base-url", canned.base_url, "--model", "zzzz-other")
    assert checks["model listed"]["fix"] == "Check the model name (--model; `qwen-ci models` shows the table)."


def test_a_table_model_the_list_lacks_says_how_many_it_lists(key: str, canned: Canned) -> None:
    canned.answer(200, {"data": [{"id": "qwen-plus"}, {"id": "qwen-turbo"}]})
    _, checks = checks_of("--base-url", canned.base_url, "--model", "qwen3-max-preview")
    listed = checks["model listed"]
    assert listed["status"] == "warn"
    assert (
        listed["detail"]
        == f"'qwen3-max-preview' is in the model table but not among the 2 models {canned.base_url} lists"
    )


# --- keys and regions ------------------------------------------------------------------------------


def test_a_region_that_cannot_be_reached_does_not_stop_the_search_for_the_keys_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Emulator(api_key="sk-beijing") as beijing, Emulator(api_key="sk-virginia") as virginia:
        down = f"http://127.0.0.1:{_closed_port()}"
        roots = {"beijing": beijing.base_url, "singapore": down, "virginia": virginia.base_url}
        monkeypatch.setattr(_constants, "REGION_ROOTS", roots)
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-virginia")
        code, checks = checks_of("--region", "beijing")
        accepting = virginia.base_url
    refused = checks["key accepted"]
    assert code == 1 and refused["status"] == "fail"
    assert refused["detail"].endswith(f"; the Virginia region ({accepting}) accepts it")
    assert refused["fix"] == (
        "The key belongs to the Virginia region: use --region virginia (Python: region='virginia'), "
        "or create a key in the Beijing region."
    )


def test_a_key_no_region_accepts_is_sent_back_to_the_console(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(api_key="sk-beijing") as beijing, Emulator(api_key="sk-singapore") as singapore:
        monkeypatch.setattr(_constants, "REGION_ROOTS", {"beijing": beijing.base_url, "singapore": singapore.base_url})
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-nowhere")
        _, checks = checks_of("--region", "beijing")
    assert checks["key accepted"]["fix"] == (
        "Copy the key again from the Model Studio console (API keys) into the DASHSCOPE_API_KEY environment variable "
        "(export DASHSCOPE_API_KEY=sk-...); check that it was not deleted and that the account is in good standing."
    )


# --- what the documents say -------------------------------------------------------------------------


def _documented_check(**settings: Any) -> Any:
    return _documented(resolve_settings(api_key="sk-x", env={}, **settings), _constants.REGION_ROOTS)


def test_a_model_outside_the_table_is_sent_as_asked_with_the_responses_protocol_as_advice() -> None:
    native = _documented_check(model="my-model")
    openai = _documented_check(model="my-model", protocol="openai")
    assert (native.name, native.status) == ("protocol documented", "warn")
    assert native.detail == "'my-model' is not in the model table: it is sent as asked; native path text-generation"
    assert openai.detail == "'my-model' is not in the model table: it is sent as asked"
    assert native.fix == "Only a call tells; if the service refuses it, try --protocol responses."


def test_a_protocol_the_documents_do_not_show_names_the_ones_they_do_and_the_fix() -> None:
    check = _documented_check(model="qwen3.7-max", protocol="openai")
    assert check.status == "warn"
    assert check.detail == "documented over responses only; 'openai' is sent as asked and may be refused"
    assert (
        check.fix
        == "Model 'qwen3.7-max' is documented for the code interpreter over `responses`: try --protocol responses."
    )


def test_a_protocol_the_documents_disagree_about_says_so_and_what_they_agree_on() -> None:
    check = _documented_check(model="qwen3.8-max", protocol="openai")
    assert check.status == "warn"
    assert check.detail.startswith("the documents disagree about 'openai' (") and check.detail.endswith(
        "; agreed: responses"
    )
    assert check.fix.startswith("Model 'qwen3.8-max' is documented for the code interpreter over `responses`")
    assert "(The documents disagree about 'openai': " in check.fix  # the hint for the protocol asked


def test_a_region_the_documents_do_not_show_the_interpreter_in_says_only_a_call_tells() -> None:
    check = _documented_check(region="virginia")
    assert check.status == "warn" and check.fix.startswith(
        "Only a call tells: `qwen-ci ask` with a short question; if the service refuses the interpreter here, "
        "use --region singapore"
    )
    assert _documented_check(region="virginia", protocol="openai").detail.startswith("the documents show 'qwen3-max'")


def test_failing_checks_make_the_exit_code_1_and_warnings_do_not(key: str, canned: Canned) -> None:
    canned.answer(404, {"code": "NotFound"})
    assert doctor("--base-url", canned.base_url)[0] == 0  # a warning only
    canned.answer(401, {"code": "InvalidApiKey"})
    assert doctor("--base-url", canned.base_url)[0] == 1
