"""What each failure tells the user, word for word where it matters: found by the mutation sweep
(issue 26) as lines no test read. Each test names the failure and the sentence the user acts on."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from qwen_ci_tool import APIConnectionError, ConfigurationError, ProtocolError, StreamInterruptedError
from qwen_ci_tool._classify import connection_kind, exception_chain, parse_retry_after, rate_limit_wait, read_body
from qwen_ci_tool._errors import (
    ErrorContext,
    broken_connection_error,
    connect_error,
    proxy_unusable_error,
    status_error,
)
from qwen_ci_tool._proxy import new_client

from ._frames import chat_chunk, native_frame
from ._mock import MODES, Script, run, sse_response

pytestmark = pytest.mark.usefixtures("no_backoff")

BEIJING = "https://dashscope.aliyuncs.com"


# --- connection failures, through the clients ---------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("raised", "message", "advice"),
    [
        (
            "[Errno -2] Name or service not known",
            f"Could not resolve the host of {BEIJING}.",
            "Check base_url, DNS and proxy settings.",
        ),
        (
            "[Errno 101] Network is unreachable",
            f"Could not connect to {BEIJING} ([Errno 101] Network is unreachable).",
            "Check the network, the proxy and base_url.",
        ),
        ("", f"Could not connect to {BEIJING} (ConnectError).", "Check the network, the proxy and base_url."),
    ],
    ids=["dns", "other", "silent"],
)
async def test_a_connection_that_cannot_be_made_says_why_and_what_to_check(
    mode: str, raised: str, message: str, advice: str
) -> None:
    with pytest.raises(APIConnectionError) as info:
        await run(mode, Script(httpx.ConnectError(raised)), max_retries=0)
    assert info.value.message == message and info.value.advice() == advice


def test_a_tls_failure_names_the_certificates_the_proxy_and_the_scheme() -> None:
    err = connect_error(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), BEIJING)
    assert err.message.startswith(f"The TLS handshake with {BEIJING} failed (")
    assert err.advice() == (
        "Check the system's CA certificates (SSL_CERT_FILE), any TLS-inspecting proxy, and the scheme of base_url."
    )


def test_a_connection_broken_without_a_message_is_named_by_its_type() -> None:
    before = broken_connection_error(httpx.ReadError(""), BEIJING, started=False)
    assert before.message == f"The connection to {BEIJING} broke before any of the answer arrived (ReadError)."
    during = broken_connection_error(httpx.ReadError("reset"), BEIJING, started=True)
    assert isinstance(during, StreamInterruptedError) and "in the middle of the stream (reset)" in during.message


# --- what the stream carried --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_an_empty_200_body_names_its_request_and_a_proxy_cutting_the_stream(mode: str) -> None:
    with pytest.raises(ProtocolError) as info:
        await run(mode, lambda r: sse_response(b""), max_retries=0)
    err = info.value
    assert err.message == "The service answered HTTP 200 with an empty event stream."
    assert err.request_id == "hdr-rid"
    assert err.advice() == "Retry the call; if it persists, check base_url (a proxy may be cutting the stream)."


@pytest.mark.parametrize("mode", MODES)
async def test_an_event_of_the_wrong_shape_is_a_protocol_error_naming_what_broke(mode: str) -> None:
    frame = 'id:1\nevent:result\ndata:{"output": {"choices": [{"message": 7}]}}\n\n'
    with pytest.raises(ProtocolError) as info:
        await run(mode, lambda r: sse_response(frame), max_retries=0)
    assert info.value.message == (
        "The stream carried an event of an unexpected shape (AttributeError: 'int' object has no attribute 'get'): "
        "a service or proxy fault, or a protocol change."
    )
    assert info.value.advice() == "Retry, and report it if it persists."


# --- the native protocol's two paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "how"),
    [
        ("qwen3-max", "the model table's row"),
        ("mystery-model", "a guess from the name: it is not in the model table"),
    ],
)
def test_a_url_error_on_the_native_path_says_where_the_model_was_sent_and_why(model: str, how: str) -> None:
    ctx = ErrorContext(base_url=BEIJING, model=model, protocol="dashscope")
    err = status_error(400, "InvalidParameter", "url error, please check url", context=ctx)
    assert err.advice() == (
        f"The native protocol has two paths and {model!r} was sent to text-generation ({how}); the service serves "
        "it on the other one. Use protocol='responses' or protocol='openai' for this model, and report the name "
        "so the table can learn it."
    )


# --- exception chains ------------------------------------------------------------------------------


def _chain_of(length: int) -> BaseException:
    top: BaseException = OSError("0")
    for i in range(1, length):
        cause = OSError(str(i))
        cause.__cause__ = top
        top = cause
    return top


def test_a_long_exception_chain_is_read_to_sixteen_links() -> None:
    assert [str(e) for e in exception_chain(_chain_of(40))] == [str(i) for i in range(39, 23, -1)]


def test_every_branch_of_an_exception_chain_is_read() -> None:
    inner = OSError("inner")
    inner.__cause__ = OSError("deeper")
    top = OSError("top")
    top.__cause__, top.__context__ = inner, ConnectionRefusedError("sideways")
    assert [str(e) for e in exception_chain(top)] == ["top", "inner", "sideways", "deeper"]


def test_each_address_of_an_exception_group_is_read_with_the_groups_own_causes() -> None:
    a, b, handshake = OSError("a"), ConnectionRefusedError("b"), ssl.SSLError("handshake")
    group = ExceptionGroup("all addresses failed", [a, b])
    group.__context__ = handshake
    chain = exception_chain(group)
    assert chain == [group, handshake, a, b]
    assert connection_kind(chain) == "tls"
    assert connection_kind(exception_chain(ExceptionGroup("x", [OSError("a"), ConnectionRefusedError()]))) == "refused"


def test_a_refused_address_does_not_hide_a_host_that_does_not_resolve() -> None:
    chain = [ConnectionRefusedError(), OSError("[Errno -2] Name or service not known")]
    assert connection_kind(chain) == "dns"


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_closed_before_its_finish_reason_says_what_is_kept_and_to_retry(mode: str) -> None:
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, lambda r: sse_response(native_frame(1, content="x")), max_retries=0)
    assert info.value.message == (
        "The stream ended before the service finished (no finish reason): the connection was closed early. "
        "What arrived so far is kept as a partial result."
    )
    assert info.value.advice() == "Retry for a full answer." and info.value.request_id == "rid-native"


@pytest.mark.parametrize("mode", MODES)
async def test_a_chat_stream_closed_before_its_usage_says_the_usage_was_lost_and_to_retry(mode: str) -> None:
    frames = chat_chunk({"content": "42"}) + chat_chunk({"content": ""}, finish="stop")
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, lambda r: sse_response(frames), max_retries=0, protocol="openai")
    assert info.value.message.endswith(
        "the connection was closed early and the call's usage was lost. The answer is kept as a partial result."
    )
    assert info.value.advice() == "Retry for a complete record." and info.value.request_id == "hdr-rid"


@pytest.mark.parametrize("mode", MODES)
async def test_a_connection_broken_mid_stream_or_before_it_says_to_retry(mode: str) -> None:
    frames = native_frame(1, content="so far").encode()
    mid = Script(lambda: sse_response(frames, error=httpx.RemoteProtocolError("incomplete chunked read")))
    with pytest.raises(StreamInterruptedError) as info:
        await run(mode, mid, max_retries=0)
    assert info.value.advice() == "Retry for a full answer."
    before = Script(lambda: sse_response(b"", error=httpx.ReadError("reset")))
    with pytest.raises(APIConnectionError) as caught:
        await run(mode, before, max_retries=0)
    assert caught.value.advice() == "Retry; check any proxy between you and the service."


@pytest.mark.parametrize("mode", MODES)
async def test_a_reply_without_a_content_type_says_a_proxy_or_a_wrong_base_url_answered(mode: str) -> None:
    with pytest.raises(ProtocolError) as info:
        await run(mode, lambda r: httpx.Response(200, content=b"hello"), max_retries=0)
    assert info.value.message == (
        "Expected an event stream (text/event-stream) but got no content type with HTTP 200: a proxy or a wrong "
        "base URL answered instead of the service."
    )
    assert info.value.advice() == "Check base_url."


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_json_says_to_retry(mode: str) -> None:
    frames = 'id:2\nevent:result\ndata:{"output": {oops\n\n'
    with pytest.raises(ProtocolError) as info:
        await run(mode, lambda r: sse_response(frames), max_retries=0)
    assert info.value.advice() == "Retry the call."


# --- error bodies that are not the service's JSON ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"Bad gateway", "text/HTML; charset=utf-8", "HTML"),
        (b"  <html><body>502</body></html>", "", "HTML"),
        (b"<!DOCTYPE html><p>x</p>", "application/octet-stream", "HTML"),
        (b"upstream \xff\xfe  timed\n out", "text/plain", "the reply was not JSON: 'upstream \ufffd\ufffd timed out'"),
        (b"[1, 2]", "application/json", "the reply was not JSON: '[1, 2]'"),
        (b" \n", "text/plain", "the reply had an empty body"),
    ],
    ids=["html type", "html page", "doctype", "text", "json array", "empty"],
)
def test_an_error_body_that_is_not_the_services_json_is_described(body: bytes, content_type: str, said: str) -> None:
    message = read_body(502, body, content_type=content_type).message
    if said == "HTML":
        said = (
            "the reply was an HTML page, not the service's JSON (a gateway or proxy answered; check base_url and "
            "any proxy)"
        )
    assert message == said


# --- waits a refusal asks for ----------------------------------------------------------------------


def test_a_retry_after_date_is_counted_from_now() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert rate_limit_wait({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, now=now) == 30
    assert (parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") or 0) > 3600
    # a date in another zone is read in its zone (15:28:30 in Beijing is 07:28:30 UTC); one marked -0000
    # (no zone known, RFC 5322) is read as UTC
    assert rate_limit_wait({"retry-after": "Wed, 21 Oct 2015 15:28:30 +0800"}, now=now) == 30
    assert rate_limit_wait({"retry-after": "Wed, 21 Oct 2015 07:28:30 -0000"}, now=now) == 30


def test_a_request_budget_without_a_remaining_count_spreads_its_reset_over_the_limit() -> None:
    headers = {"x-ratelimit-reset-requests": "6s", "x-ratelimit-limit-requests": "3"}
    assert rate_limit_wait(headers) == 2


def test_a_spent_request_budget_whose_reset_is_negative_is_a_wait_of_zero_not_a_negative_one() -> None:
    assert rate_limit_wait({"x-ratelimit-reset-requests": "-5", "x-ratelimit-remaining-requests": "0"}) == 0


# --- hints that name a region or a model -------------------------------------------------------------


def test_a_refused_key_sent_to_a_chosen_region_root_names_the_other_region() -> None:
    ctx = ErrorContext(base_url=BEIJING, model="qwen3-max", protocol="dashscope", custom_base_url=True)
    advice = status_error(401, "InvalidApiKey", "Invalid API-key provided.", context=ctx).advice()
    assert advice is not None
    assert "a key from the Singapore region needs base_url='https://dashscope-intl.aliyuncs.com'" in advice


def test_a_model_name_with_braces_is_shown_as_it_is_spelt() -> None:
    ctx = ErrorContext(base_url=BEIJING, model="odd}}na{me", protocol="openai")
    advice = status_error(404, "model_not_found", "no such model", context=ctx).advice()
    assert advice is not None and advice.startswith("The model 'odd}}na{me' does not exist at")


# --- proxies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "proxy", "advice"),
    [
        (
            "HTTPS_PROXY",
            "socks4://bob:pw@127.0.0.1:1080",
            "Set HTTPS_PROXY to an http://, https:// or socks5:// proxy URL, or unset it.",
        ),
    ],
)
def test_a_proxy_of_an_unknown_kind_says_which_kinds_work(
    monkeypatch: pytest.MonkeyPatch, variable: str, proxy: str, advice: str
) -> None:
    for name in ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, proxy)
    with pytest.raises(ConfigurationError) as info:
        new_client(httpx.Client)
    assert info.value.advice() == advice


def test_a_socks_proxy_without_the_extra_says_how_to_install_it() -> None:
    err = proxy_unusable_error("ALL_PROXY", "socks5://127.0.0.1:1080", socks=True)
    assert err.advice() == (
        "Install it with: pip install 'qwen-ci-tool[socks]' (httpx[socks]); or unset ALL_PROXY, or set it to an "
        "HTTP proxy."
    )


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (OSError("[SSL: WRONG_VERSION_NUMBER] wrong version number"), "tls"),
        (OSError("hostname mismatch, certificate is not valid"), "tls"),
        (ssl.SSLError("handshake"), "tls"),
        (socket.gaierror("lookup failed"), "dns"),
        (OSError("[Errno -2] Name or service not known"), "dns"),
        (OSError("[Errno -3] Temporary failure in name resolution"), "dns"),
        (OSError("nodename nor servname provided, or not known"), "dns"),
        (OSError("[Errno 111] Connection refused"), "refused"),
        (OSError("[Errno 101] Network is unreachable"), "other"),
    ],
)
def test_a_connection_failure_is_told_apart_by_its_type_or_its_text(raised: OSError, kind: str) -> None:
    assert connection_kind(exception_chain(raised)) == kind


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


def _fails_with(exc: Exception) -> Callable[..., httpx.Client]:
    def factory(**options: object) -> httpx.Client:
        raise exc

    return factory


@pytest.mark.usefixtures("no_proxies")
def test_without_socks_support_the_socks_proxy_is_named_even_behind_an_http_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://corp:3128")
    monkeypatch.setenv("HTTPS_PROXY", "socks5://alice:pw@127.0.0.1:1080")
    with pytest.raises(ConfigurationError) as info:
        new_client(_fails_with(ImportError("Using SOCKS proxy, but the 'socksio' package is not installed.")))
    assert info.value.message.startswith(
        "HTTPS_PROXY routes connections through the SOCKS proxy socks5://127.0.0.1:1080,"
    )


@pytest.mark.usefixtures("no_proxies")
def test_without_socks_support_and_no_proxy_variable_the_usual_variable_is_named() -> None:
    with pytest.raises(ConfigurationError) as info:
        new_client(_fails_with(ImportError("socksio")))
    assert info.value.message.startswith("ALL_PROXY routes connections through the SOCKS proxy socks5://...,")


@pytest.mark.usefixtures("no_proxies")
def test_a_value_error_that_is_not_about_the_proxy_is_not_blamed_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://corp:3128")
    with pytest.raises(ValueError, match="bad timeout"):
        new_client(_fails_with(ValueError("bad timeout")))
