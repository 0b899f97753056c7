"""The settings table, and the resolution of one client's settings from keywords and the environment.

:class:`ClientSettings` is the table: one line per setting, its type, its documented default and its
help text. Every face derives from it: the clients' keywords, the flags of ``qwen-ci`` and
``qwen-ci-mcp`` (:mod:`qwen_ci_tool.cli.flags`), the LangChain tool's fields, and the environment:
each setting is read from ``QWEN_CI_<NAME>`` (``QWEN_CI_MODEL``, ``QWEN_CI_IDLE_TIMEOUT``, ...)
when not given, besides the vendor's established names (``DASHSCOPE_API_KEY``,
``DASHSCOPE_HTTP_BASE_URL``, ``DASHSCOPE_WORKSPACE_ID``). Adding a setting is one line there (and
its resolved field in :class:`~qwen_ci_tool._settings.Settings`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, TypedDict, Unpack, get_args, get_type_hints

import httpx

from . import _constants as C
from ._errors import key_place
from ._exceptions import ConfigurationError
from ._model_table import lookup_model
from ._protocols import PROTOCOLS, describe_protocols
from ._secret import Secret
from ._settings import Settings

__all__ = [
    "SETTINGS",
    "ClientSettings",
    "Setting",
    "Settings",
    "build_messages",
    "normalize_base_url",
    "resolve_settings",
]

#: The protocol names, from the protocol registry.
PROTOCOL_NAMES = tuple(PROTOCOLS)
_ROLES = ("system", "user", "assistant")
#: Parameters the interpreter needs; a caller may not switch them off through extra_parameters.
_REQUIRED_ON = ("enable_code_interpreter", "enable_thinking", "stream", "incremental_output")
#: Every setting's environment variable is this prefix and its name in capitals.
ENV_PREFIX = "QWEN_CI_"


@dataclass(frozen=True, slots=True)
class Setting:
    """One line of the settings table (the metadata of a :class:`ClientSettings` key)."""

    help: str
    #: The documented default (``None``: derived, as the help says).
    default: Any = None
    choices: tuple[str, ...] | None = None
    #: Offered as a flag of ``qwen-ci`` and ``qwen-ci-mcp`` and as a LangChain field.
    face: bool = True
    #: The vendor's environment variables, read after ``QWEN_CI_<NAME>``.
    vendor_env: tuple[str, ...] = ()
    #: Filled from the table: the keyword, and how text (a flag, a variable) becomes a value.
    name: str = ""
    kind: type = str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def parse(self, text: str, where: str) -> Any:
        """A value from text (a flag or an environment variable named *where*)."""
        text = text.strip()
        if self.kind is str:
            return text
        try:
            if self.kind is dict:
                value = json.loads(text)
                if not isinstance(value, dict):
                    raise ValueError
                return value
            return self.kind(text)
        except ValueError:
            shown = {int: "an integer", float: "a number", dict: "a JSON object"}[self.kind]
            raise ConfigurationError(f"{where} must be {shown}, got {text!r}.") from None


def _seconds(what: str, default: float) -> str:
    return f"{what} (default {default:g})"


class ClientSettings(TypedDict, total=False):
    """The settings table: every client, the CLI, the MCP server and the LangChain tool take these."""

    api_key: Annotated[
        str | Secret | None,
        Setting(f"Model Studio API key (default: {C.ENV_API_KEY})", face=False, vendor_env=(C.ENV_API_KEY,)),
    ]
    protocol: Annotated[
        str | None,
        Setting(
            f"wire protocol (default {C.DEFAULT_PROTOCOL}; {describe_protocols()})", C.DEFAULT_PROTOCOL, PROTOCOL_NAMES
        ),
    ]
    model: Annotated[
        str | None, Setting(f"model name (default {C.DEFAULT_MODEL}; any name is passed through)", C.DEFAULT_MODEL)
    ]
    base_url: Annotated[
        str | None,
        Setting(
            f"service root, e.g. {C.REGION_ROOTS[C.DEFAULT_REGION]} (default: {C.ENV_BASE_URL}, else the "
            "region's); overrides --region",
            vendor_env=(C.ENV_BASE_URL,),
        ),
    ]
    region: Annotated[
        str | None,
        Setting(
            f"pick the service root by region (default {C.DEFAULT_REGION}; us is virginia)",
            C.DEFAULT_REGION,
            (*C.REGION_ROOTS, *C.REGION_ALIASES),
        ),
    ]
    connect_timeout: Annotated[
        float | None, Setting(_seconds("seconds to connect", C.DEFAULT_CONNECT_TIMEOUT), C.DEFAULT_CONNECT_TIMEOUT)
    ]
    idle_timeout: Annotated[
        float | None,
        Setting(
            _seconds("longest silence in seconds, e.g. while the remote code runs", C.DEFAULT_IDLE_TIMEOUT),
            C.DEFAULT_IDLE_TIMEOUT,
        ),
    ]
    total_timeout: Annotated[
        float | None,
        Setting(_seconds("deadline in seconds for a whole call", C.DEFAULT_TOTAL_TIMEOUT), C.DEFAULT_TOTAL_TIMEOUT),
    ]
    max_retries: Annotated[
        int | None, Setting(f"retries before the first event (default {C.DEFAULT_MAX_RETRIES})", C.DEFAULT_MAX_RETRIES)
    ]
    workspace: Annotated[
        str | None,
        Setting("Model Studio workspace, sent as X-DashScope-WorkSpace", face=False, vendor_env=(C.ENV_WORKSPACE,)),
    ]
    responses_path: Annotated[str | None, Setting("the Responses API path", C.RESPONSES_PATH, face=False)]
    extra_parameters: Annotated[
        Mapping[str, Any] | None, Setting("merged into the request parameters (a JSON object)", face=False)
    ]


def _table() -> dict[str, Setting]:
    rows: dict[str, Setting] = {}
    for name, hint in get_type_hints(ClientSettings, include_extras=True).items():
        kind_union, row = get_args(hint)
        kinds = [k for k in get_args(kind_union) if k in (str, int, float)]
        kind = kinds[0] if kinds else dict
        rows[name] = replace(row, name=name, kind=kind)
    return rows


#: The table, by name, in order: what every face derives a setting from.
SETTINGS: dict[str, Setting] = _table()
SETTING_NAMES = frozenset(SETTINGS)


def normalize_base_url(url: str, where: str | None = None) -> str:
    """The service root: scheme + host (+ any gateway prefix), without the API path suffix.

    Refused here, before anything is sent or shown: a URL httpx cannot parse (``http://[::1``, a
    bad port) and one with ``user:password@``, which every message naming the URL would print (the
    key goes in its own setting). Neither refusal echoes a credential. *where* names the environment
    variable the URL came from, if it did."""
    text = url.strip().rstrip("/")
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL:
        parsed = None
    if parsed is not None and parsed.userinfo:
        raise ConfigurationError(
            "The base URL contains credentials (user:password@); they are not sent as the key and would "
            "show in every message that names the URL.",
            hint=f"{{base_url}} takes the service root alone; put the key in {C.ENV_API_KEY}.",
        )
    if parsed is None or not parsed.host or not text.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"Invalid {where or 'base URL'} {url.strip().rsplit('@', 1)[-1]!r}.",
            hint=f"{{base_url}} must be an http(s) URL such as {C.REGION_ROOTS['beijing']!r}.",
        )
    for suffix in C.BASE_URL_SUFFIXES:
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def _read_key(api_key: str | Secret | None, env: Mapping[str, str]) -> tuple[Secret | None, str | None]:
    """The key and where it came from (see ``Settings.key_source``)."""
    if isinstance(api_key, Secret):
        value, source = api_key.get_secret_value(), "api_key"
    elif api_key is not None:
        value, source = api_key, "api_key"
    else:
        row = SETTINGS["api_key"]  # its own variable first, then the vendor's (as every setting: _from_env)
        source = next((var for var in (row.env, *row.vendor_env) if env.get(var, "").strip()), C.ENV_API_KEY)
        value = env.get(source, "")
        if not value.strip() and env.get(C.ENV_API_KEY_FILE):
            source = C.ENV_API_KEY_FILE
            try:  # utf-8-sig: a byte-order mark (as some Windows editors write) is not part of the key
                value = Path(env[C.ENV_API_KEY_FILE]).read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise ConfigurationError(
                    f"{C.ENV_API_KEY_FILE} names a file that cannot be read ({exc.strerror})."
                ) from None
            except UnicodeDecodeError:  # never echo the bytes: they may be (part of) a key
                raise ConfigurationError(
                    f"{C.ENV_API_KEY_FILE} names a file that is not UTF-8 text (UTF-16, as Windows PowerShell 5's "
                    "'>' writes, or not a key file at all): save the key in it as plain text."
                ) from None
            if not value.strip():  # set on purpose: not the same as no key at all
                raise ConfigurationError(
                    f"{C.ENV_API_KEY_FILE} names an empty file: write the key into it, or unset {C.ENV_API_KEY_FILE}."
                )
    value = value.strip()
    if not value:
        return None, None
    if not value.isascii() or not value.isprintable() or " " in value:
        # Never echo the value: it is (part of) a key.
        raise ConfigurationError(
            "The API key contains spaces or characters that are not printable ASCII.",
            hint=f"Copy it again from the Model Studio console into {key_place(source)}.",
        )
    return Secret(value), source


def _from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings the environment gives (the key apart), and the variable each came from."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for row in SETTINGS.values():
        if row.name == "api_key":
            continue
        for var in (row.env, *row.vendor_env):
            if env.get(var, "").strip():
                values[row.name] = row.parse(env[var], var)
                origin[row.name] = var
                break
    return values, origin


def _from(where: Mapping[str, str], name: str) -> str:
    """Where the environment gave the setting, as ' (from QWEN_CI_REGION)': the place to fix it."""
    return f" (from {where[name]})" if name in where else ""


def _seconds_value(name: str, value: Any, where: str | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        what = where or name.replace("_", " ")
        raise ConfigurationError(
            f"Invalid {what}: {value!r}.",
            hint=f"{{{name}}} must be a positive number of seconds, and finite (not nan or inf).",
        )
    return float(value)


def resolve_settings(*, env: Mapping[str, str] | None = None, **given: Unpack[ClientSettings]) -> Settings:
    """Validate every setting; raise :class:`ConfigurationError` naming the fix.

    A setting not given (or given as ``None``) is read from its environment variable, else its default.
    An explicit ``region`` still overrides a ``base_url`` from the environment.
    """
    unknown = sorted(set(given) - SETTING_NAMES)
    if unknown:
        raise ConfigurationError(
            f"Unknown setting {', '.join(map(repr, unknown))}; the settings are: {', '.join(sorted(SETTING_NAMES))}."
        )
    env = os.environ if env is None else env
    from_env, origin = _from_env(env)
    explicit = {name: value for name, value in given.items() if value is not None}
    values: dict[str, Any] = {**from_env, **explicit}
    where = {name: var for name, var in origin.items() if name not in explicit}
    if "region" in explicit and "base_url" not in explicit:
        values.pop("base_url", None)  # an explicit region beats the environment's base_url
    protocol = values.get("protocol") or C.DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        raise ConfigurationError(
            f"Unknown protocol {protocol!r}{_from(where, 'protocol')}.",
            hint=f"Use {{protocol}} with one of {', '.join(PROTOCOLS)} ({describe_protocols()}).",
        )
    region = values.get("region")
    region = C.REGION_ALIASES.get(region, region) if isinstance(region, str) else region
    if region is not None and (not isinstance(region, str) or region not in C.REGION_ROOTS):
        raise ConfigurationError(
            f"Unknown region {region!r}{_from(where, 'region')}.",
            hint=f"Use {{region}} with one of {', '.join([*C.REGION_ROOTS, *C.REGION_ALIASES])}, or set {{base_url}}.",
        )
    base_url = values.get("base_url")
    root = (
        normalize_base_url(base_url, where.get("base_url")) if base_url else C.REGION_ROOTS[region or C.DEFAULT_REGION]
    )
    model = values.get("model", C.DEFAULT_MODEL)
    if not isinstance(model, str) or not model.strip() or model != model.strip():
        raise ConfigurationError(
            f"Invalid model: {model!r}.",  # only a given one: the environment's is stripped, never blank
            hint=f"{{model}} must be a non-empty model name such as {C.DEFAULT_MODEL!r}, without spaces around it.",
        )
    # The model table advises (the native path, the hint if the service refuses); it never
    # refuses a pair itself: the vendor's documents disagree and go stale, the service decides.
    info = lookup_model(model)
    max_retries = values.get("max_retries", C.DEFAULT_MAX_RETRIES)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(
            f"Invalid {where.get('max_retries', 'max retries')}: {max_retries!r}.",
            hint="{max_retries} must be an integer >= 0.",
        )
    extra_given = values.get("extra_parameters")
    if extra_given is not None and not isinstance(extra_given, Mapping):
        raise ConfigurationError(
            f"extra_parameters must be a mapping (a dict), got {type(extra_given).__name__}.",
            hint='Give extra_parameters as a JSON object of request parameters, e.g. {{"seed": 7}}.',
        )
    extra = dict(extra_given or {})
    _check_extra(extra)
    path = values.get("responses_path") or C.RESPONSES_PATH
    if not path.startswith("/"):
        raise ConfigurationError(f"responses_path must start with '/', e.g. {C.RESPONSES_PATH!r}.")
    # Every number of seconds in the table (its type is float) is checked the same way.
    timeouts = {
        name: _seconds_value(name, values.get(name, row.default), where.get(name))
        for name, row in SETTINGS.items()
        if row.kind is float
    }
    api_key, key_source = _read_key(given.get("api_key"), env)
    return Settings(
        api_key=api_key,
        key_source=key_source,
        base_url=root,
        region=region,
        protocol=protocol,
        model=model,
        model_info=info,
        max_retries=max_retries,
        workspace=values.get("workspace") or None,
        custom_base_url=bool(base_url),
        responses_path=path,
        extra_parameters=extra,
        **timeouts,
    )


def _check_extra(extra: dict[str, Any]) -> None:
    if "tools" in extra or "functions" in extra:
        raise ConfigurationError(
            "The code interpreter and function calling (tools) cannot be used together: the service "
            "rejects the combination. Remove 'tools' from extra_parameters, or call the model without "
            "the code interpreter for function calling."
        )
    for name in _REQUIRED_ON:
        if name in extra and not extra[name]:
            raise ConfigurationError(
                f"extra_parameters sets {name}={extra[name]!r}, but the code interpreter works only "
                "with thinking enabled and streaming output. Remove it."
            )
    for name in ("model", "messages", "input"):
        if name in extra:
            raise ConfigurationError(f"Pass {name} as its own argument, not through extra_parameters.")
    try:  # as the request body is made (_protocols._base.post), and JSON's rules besides: no NaN
        json.dumps(extra, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # a set, an object, NaN, a cycle; a lone surrogate (UnicodeEncodeError)
        why = f"a lone surrogate {exc.object[exc.start]!r}" if isinstance(exc, UnicodeEncodeError) else str(exc)
        raise ConfigurationError(
            f"extra_parameters cannot be sent as JSON ({why}). Give text, numbers, booleans, None, lists and dicts."
        ) from None


def check_text(text: str, where: str) -> int:
    """The length of *text*, or :class:`ConfigurationError` when it is not text that can be sent:
    a lone surrogate (what undecodable bytes become) cannot be encoded as UTF-8, and a NUL
    character means binary data was passed as text."""
    at = text.find("\0")
    what = "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        if at < 0 or exc.start < at:
            at, what = exc.start, f"a lone surrogate ({text[exc.start]!r}, what an undecodable byte becomes)"
    if at >= 0:
        raise ConfigurationError(
            f"{where} is not valid text: {what} at character {at}. This looks like binary data or text "
            "read with the wrong encoding; send UTF-8 text only (the interpreter cannot read files)."
        )
    return len(text)


def _check_content(content: Any, where: str) -> int:
    if isinstance(content, str):
        return check_text(content, where)
    if isinstance(content, list) and content:
        size = 0
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("text", None), str):
                raise ConfigurationError(
                    f"{where}: content parts must be {{'text': '...'}} dicts; only text is supported."
                )
            size += check_text(part["text"], where)
        return size
    raise ConfigurationError(
        f"{where}: content must be a string or a list of text parts, got {type(content).__name__}."
    )


def build_messages(question: str | None, messages: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The message list to send, from a question or a message list; validated before sending."""
    if (question is None) == (messages is None):
        raise ConfigurationError("Pass either a question string or messages=[...], not both and not neither.")
    if question is not None:
        if not isinstance(question, str):
            raise ConfigurationError(f"The question must be a string, got {type(question).__name__}.")
        messages = [{"role": "user", "content": question}]
    assert messages is not None
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
        raise ConfigurationError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts.")
    out: list[dict[str, Any]] = []
    total = 0
    for i, message in enumerate(messages):
        where = "The question" if question is not None else f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise ConfigurationError(f"{where} must be a dict with 'role' and 'content'.")
        role = message.get("role")
        if role not in _ROLES:
            hint = " (the code interpreter cannot be combined with function calling)" if role == "tool" else ""
            raise ConfigurationError(f"{where} has role {role!r}; use one of {', '.join(_ROLES)}{hint}.")
        if role == "system" and i != 0:
            raise ConfigurationError(f"{where}: a system message may only come first.")
        content = message.get("content")
        total += _check_content(content, where)
        out.append({"role": role, "content": content})
    if out[-1]["role"] != "user":
        raise ConfigurationError("The last message must come from the user: it is the question to answer.")
    last = out[-1]["content"]
    if not (last.strip() if isinstance(last, str) else "".join(p["text"] for p in last).strip()):
        raise ConfigurationError("The question is empty: ask something, e.g. 'What is 123 to the power of 21?'.")
    if total > C.MAX_INPUT_CHARS:
        raise ConfigurationError(
            f"The input is {total:,} characters; the limit is {C.MAX_INPUT_CHARS:,}. Send less text "
            "(the interpreter cannot read files you attach here anyway)."
        )
    return out
