"""``qwen-ci doctor``: the checks a call needs, each with the fix when it fails.

Every check that talks to the service uses one request, the cheapest authenticated one that tells:
``GET {root}/compatible-mode/v1/models``, the OpenAI-compatible model list. It costs no tokens, and
its answer says whether the endpoint is reachable, whether the key is accepted, and whether the
model exists in that region. When the key is refused on a region's root, the other regions' roots
are asked the same question (a Singapore key on the Beijing endpoint is the most common mistake):
a doctor run is one such request, or one per region, and never a model call.

Whether a model serves the code interpreter over a protocol only a real call can tell; the model
table says what the vendor's documents show, and the doctor reports that as advice (and warns
when the region is not one the documents show the interpreter in: the US root).
"""

from __future__ import annotations

import argparse
import difflib
import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, Literal

import httpx

from .. import _constants as C
from .._client import ssl_context
from .._config import resolve_settings
from .._errors import connect_error, key_place, protocol_hint
from .._knobs import PYTHON
from .._model_table import known_model_names, lookup_model, ordered
from .._protocols._base import USER_AGENT
from .._proxy import new_client, without_credentials
from .._settings import Settings
from .common import EXIT_FAILED, EXIT_OK
from .flags import CLI, settings_from

__all__ = ["MODELS_PATH", "Check", "diagnose", "doctor", "failed"]

MODELS_PATH = "/compatible-mode/v1/models"
#: The regions the vendor's documents show the code interpreter in (the others: only a call tells).
INTERPRETER_REGIONS = frozenset({"beijing", "singapore"})

CheckStatus = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: ``fix`` says what to do when the status is not ``ok``."""

    name: str
    status: CheckStatus
    detail: str
    fix: str = ""


def failed(checks: list[Check]) -> bool:
    return any(c.status == "fail" for c in checks)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Any  # parsed JSON, or None
    content_type: str


def _ask(client: httpx.Client, root: str, settings: Settings) -> _Answer:
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if settings.api_key is not None:
        headers["Authorization"] = "Bearer " + settings.api_key.get_secret_value()
    if settings.workspace:
        headers["X-DashScope-WorkSpace"] = settings.workspace
    response = client.get(root + MODELS_PATH, headers=headers, timeout=settings.connect_timeout)
    try:
        body = response.json()
    except ValueError:
        body = None
    return _Answer(response.status_code, body, response.headers.get("content-type", ""))


def _proxy_for(root: str) -> str | None:
    """The proxy the environment routes *root* through (the variables httpx honours), if any."""
    scheme, _, rest = root.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return without_credentials(proxy)


_PROXY_FIX = "Check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (and NO_PROXY), or unset them to connect directly."


def _unreachable(exc: httpx.HTTPError, root: str, settings: Settings) -> Check:
    proxy = _proxy_for(root)
    if isinstance(exc, httpx.ProxyError) or (proxy and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))):
        via = f" {proxy}" if proxy else ""
        return Check("endpoint reachable", "fail", f"the proxy{via} between you and {root} failed: {exc}", _PROXY_FIX)
    if isinstance(exc, httpx.TimeoutException):
        return Check(
            "endpoint reachable",
            "fail",
            f"no answer from {root} within {settings.connect_timeout:g} s",
            CLI.render("Check the network, any proxy and {base_url}; raise {connect_timeout} on a slow link."),
        )
    if isinstance(exc, httpx.ConnectError):
        err = connect_error(exc, root)
        return Check("endpoint reachable", "fail", err.message.rstrip(":. "), err.advice(CLI) or "")
    return Check("endpoint reachable", "fail", f"{root}: {exc}", CLI.render("Check the network, proxy and {base_url}."))


def _error_text(answer: _Answer) -> str:
    body: dict[str, Any] = answer.body if isinstance(answer.body, dict) else {}
    nested = body.get("error")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else body
    code = inner.get("code") or inner.get("type") or ""
    message = inner.get("message") or ""
    return f"HTTP {answer.status}" + (f" {code}" if code else "") + (f": {message}" if message else "")


def _key_place(settings: Settings) -> str:
    return CLI.render(key_place(settings.key_source))


def _region_of(root: str, roots: Mapping[str, str]) -> str | None:
    return next((name for name, url in roots.items() if url == root), None)


def _key_refused(answer: _Answer, settings: Settings, client: httpx.Client, roots: Mapping[str, str]) -> Check:
    detail = f"{settings.base_url} refused it ({_error_text(answer)})"
    region = _region_of(settings.base_url, roots)
    if region is None:
        return Check(
            "key accepted",
            "fail",
            detail,
            f"Copy the key again into {_key_place(settings)}. Keys are per region: this {CLI.setting('base_url')} is "
            "no region's root, so the other regions were not asked; a workspace gateway needs a key of its workspace.",
        )
    for other, root in roots.items():
        if other == region:
            continue
        try:
            elsewhere = _ask(client, root, settings)
        except httpx.HTTPError:
            continue
        if elsewhere.status == 200:
            return Check(
                "key accepted",
                "fail",
                f"{detail}; the {other.capitalize()} region ({root}) accepts it",
                f"The key belongs to the {other.capitalize()} region: use {CLI.setting('region', other)} "
                f"(Python: {PYTHON.setting('region', other)}), or create a key in the {region.capitalize()} region.",
            )
    return Check(
        "key accepted",
        "fail",
        f"{detail}; no other region accepts it either",
        f"Copy the key again from the Model Studio console (API keys) into {_key_place(settings)}; "
        "check that it was not deleted and that the account is in good standing.",
    )


def _model_listed(answer: _Answer, settings: Settings) -> Check:
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    ids: list[str] = []
    if isinstance(data, list):
        ids = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    if not ids:
        return Check("model listed", "skip", "the service's model list was empty or unreadable")
    if settings.model in ids:
        return Check("model listed", "ok", f"{settings.model!r} is in the service's list ({len(ids)} models)")
    close = difflib.get_close_matches(settings.model, ids, n=3, cutoff=0.6)
    near = f" Close names it lists: {', '.join(close)}." if close else ""
    if settings.model in known_model_names():
        # The documents name it: the list may lag (previews, snapshots); only a call tells.
        return Check(
            "model listed",
            "warn",
            f"{settings.model!r} is in the model table but not among the {len(ids)} models {settings.base_url} lists",
            f"`qwen-ci ask` with a short question tells whether the service takes it.{near}",
        )
    return Check(
        "model listed",
        "fail",
        f"{settings.model!r} is not among the {len(ids)} models {settings.base_url} lists",
        f"Check the model name ({CLI.setting('model')}; `qwen-ci models` shows the table).{near}",
    )


def _documented(settings: Settings, roots: Mapping[str, str]) -> Check:
    """What the documents say about the model over the protocol, and about the region it goes to."""
    check = _protocol_documented(settings)
    region = _region_of(settings.base_url, roots)
    if region is None or region in INTERPRETER_REGIONS:
        return check
    shown = " and ".join(r.capitalize() for r in sorted(INTERPRETER_REGIONS))
    return Check(
        check.name,
        "warn",
        f"{check.detail}; whether the {region.capitalize()} region ({settings.base_url}) serves the code "
        f"interpreter is undocumented (the documents show {shown})",
        check.fix
        or "Only a call tells: `qwen-ci ask` with a short question; if the service refuses the interpreter "
        f"here, use {CLI.setting('region', 'singapore')} with a key of that region.",
    )


def _protocol_documented(settings: Settings) -> Check:
    info = lookup_model(settings.model)
    path = f"; native path {info.native_endpoint}" if settings.protocol == "dashscope" else ""
    name = "protocol documented"
    if not info.known:
        return Check(
            name,
            "warn",
            f"{settings.model!r} is not in the model table: it is sent as asked{path}",
            f"Only a call tells; if the service refuses it, try {CLI.setting('protocol', 'responses')}.",
        )
    if settings.protocol in info.protocols:
        return Check(
            name, "ok", f"the documents show {settings.model!r} with the interpreter over {settings.protocol!r}{path}"
        )
    hint = protocol_hint(settings.model, settings.protocol)
    advice = CLI.render(hint) if hint else ""
    shown = ", ".join(ordered(info.protocols))
    if settings.protocol in info.disputed:
        return Check(
            name,
            "warn",
            f"the documents disagree about {settings.protocol!r} ({info.disagreement}); agreed: {shown}{path}",
            advice,
        )
    return Check(
        name,
        "warn",
        f"documented over {shown} only; {settings.protocol!r} is sent as asked and may be refused{path}",
        advice,
    )


def diagnose(settings: Settings, client: httpx.Client) -> list[Check]:
    """Run every check, in order; a check that cannot run (an earlier one failed) is ``skip``."""
    roots = C.REGION_ROOTS
    checks: list[Check] = []
    if settings.api_key is None:
        checks.append(
            Check(
                "API key present",
                "fail",
                f"no key in {C.ENV_API_KEY} (nor in a file named by {C.ENV_API_KEY_FILE})",
                f"export {C.ENV_API_KEY}=sk-... (a Model Studio key of the region you call), or try --emulator with `qwen-ci ask`.",
            )
        )
    else:
        checks.append(Check("API key present", "ok", "set (it is never shown)"))
    try:
        answer = _ask(client, settings.base_url, settings)
    except httpx.HTTPError as exc:
        checks.append(_unreachable(exc, settings.base_url, settings))
        checks += [Check(n, "skip", "the endpoint is not reachable") for n in ("key accepted", "model listed")]
        checks.append(_documented(settings, roots))
        return checks
    if answer.body is None:  # not JSON, even with 200: a captive portal or a wrong host
        proxy = answer.status == 407
        checks.append(
            Check(
                "endpoint reachable",
                "fail",
                f"{settings.base_url} answered HTTP {answer.status} with {answer.content_type or 'no content type'}, not the service's JSON"
                + (" (the proxy asks for authentication)" if proxy else ""),
                _PROXY_FIX
                if proxy
                else CLI.render(
                    "A proxy or a wrong {base_url} answered: check {base_url} "
                    f"(the service root, e.g. {C.REGION_ROOTS['beijing']})."
                ),
            )
        )
        checks += [
            Check(n, "skip", "the endpoint did not answer as the service") for n in ("key accepted", "model listed")
        ]
        checks.append(_documented(settings, roots))
        return checks
    checks.append(Check("endpoint reachable", "ok", f"{settings.base_url} answered (HTTP {answer.status})"))
    if settings.api_key is None:
        checks += [Check(n, "skip", "no key to try") for n in ("key accepted", "model listed")]
    elif answer.status in (401, 403):
        checks.append(_key_refused(answer, settings, client, roots))
        checks.append(Check("model listed", "skip", "the key was refused"))
    elif answer.status == 200:
        checks.append(Check("key accepted", "ok", f"{settings.base_url} accepted it"))
        checks.append(_model_listed(answer, settings))
    else:
        why = _error_text(answer)
        checks.append(
            Check(
                "key accepted",
                "warn",
                f"could not tell: the model list answered {why}",
                "This host may not offer the model list; `qwen-ci ask` with a short question tells for sure.",
            )
        )
        checks.append(Check("model listed", "skip", "no model list"))
    checks.append(_documented(settings, roots))
    return checks


def report(checks: list[Check], settings: Settings) -> str:
    """The report a person reads: one line per check, its fix under it."""
    head = f"qwen-ci doctor: {settings.base_url}, model {settings.model} over {settings.protocol}\n"
    lines = [head]
    for check in checks:
        lines.append(
            f"  [{check.status.upper() if check.status == 'fail' else check.status:4}] {check.name}: {check.detail}\n"
        )
        if check.fix and check.status != "ok":
            lines.append(f"         fix: {check.fix}\n")
    verdict = "some checks failed" if failed(checks) else "ready"
    lines.append(f"{verdict} (the doctor asked the service's model list only: no tokens were used)\n")
    return "".join(lines)


def to_json(checks: list[Check]) -> str:
    return json.dumps(
        [{"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix} for c in checks], indent=2
    )


def doctor(args: argparse.Namespace, stdout: IO[str]) -> int:
    """``qwen-ci doctor``: run the checks, print the report (or JSON); the exit code."""
    settings = resolve_settings(**settings_from(args))
    with new_client(httpx.Client, verify=ssl_context()) as client:  # a proxy it cannot use: exit 2
        checks = diagnose(settings, client)
    stdout.write(to_json(checks) + "\n" if args.json else report(checks, settings))
    stdout.flush()
    return EXIT_FAILED if failed(checks) else EXIT_OK
