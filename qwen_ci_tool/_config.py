"""Settings: resolved once per client from keywords and the environment, validated before sending."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from . import _constants as C
from ._exceptions import ConfigurationError
from ._model_table import ModelInfo, lookup_model
from ._protocols import PROTOCOLS, describe_protocols
from ._secret import Secret

__all__ = ["ClientSettings", "Settings", "build_messages", "normalize_base_url", "resolve_settings"]

#: The protocol names, from the protocol registry.
PROTOCOL_NAMES = tuple(PROTOCOLS)
_ROLES = ("system", "user", "assistant")
#: Parameters the interpreter needs; a caller may not switch them off through extra_parameters.
_REQUIRED_ON = ("enable_code_interpreter", "enable_thinking", "stream", "incremental_output")


@dataclass(frozen=True, slots=True)
class Settings:
    api_key: Secret | None
    base_url: str
    region: str | None
    protocol: str
    model: str
    model_info: ModelInfo
    connect_timeout: float
    idle_timeout: float
    total_timeout: float
    max_retries: int
    workspace: str | None = None
    #: base_url came from the caller (argument or environment), so it overrides region.
    custom_base_url: bool = False
    responses_path: str = C.RESPONSES_PATH
    extra_parameters: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Settings(base_url={self.base_url!r}, protocol={self.protocol!r}, model={self.model!r}, "
            f"api_key={'set' if self.api_key else 'missing'})"
        )


def normalize_base_url(url: str) -> str:
    """The service root: scheme + host (+ any gateway prefix), without the API path suffix."""
    text = url.strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1]) == 0:
        raise ConfigurationError(
            f"Invalid base URL {url!r}.",
            hint=f"{{base_url}} must be an http(s) URL such as {C.REGION_ROOTS['beijing']!r}.",
        )
    for suffix in C.BASE_URL_SUFFIXES:
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def _read_key(api_key: str | Secret | None, env: Mapping[str, str]) -> Secret | None:
    if isinstance(api_key, Secret):
        value = api_key.get_secret_value()
    elif api_key is not None:
        value = api_key
    else:
        value = env.get(C.ENV_API_KEY, "")
        if not value.strip() and env.get(C.ENV_API_KEY_FILE):
            try:
                value = Path(env[C.ENV_API_KEY_FILE]).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(
                    f"{C.ENV_API_KEY_FILE} names a file that cannot be read ({exc.strerror})."
                ) from None
    value = value.strip()
    if not value:
        return None
    if not value.isascii() or not value.isprintable() or " " in value:
        # Never echo the value: it is (part of) a key.
        raise ConfigurationError(
            "The API key contains spaces or characters that are not printable ASCII; "
            f"copy it again from the Model Studio console into {C.ENV_API_KEY}."
        )
    return Secret(value)


def _positive(name: str, value: float | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(
            f"Invalid {name.replace('_', ' ')}: {value!r}.", hint=f"{{{name}}} must be a positive number of seconds."
        )
    return float(value)


class ClientSettings(TypedDict, total=False):
    """The settings every surface takes: both clients, the CLI, the MCP server, the LangChain tool."""

    api_key: str | Secret | None
    base_url: str | None
    region: str | None
    protocol: str | None
    model: str | None
    connect_timeout: float | None
    idle_timeout: float | None
    total_timeout: float | None
    max_retries: int | None
    workspace: str | None
    responses_path: str | None
    extra_parameters: Mapping[str, Any] | None


SETTING_NAMES = frozenset(ClientSettings.__annotations__)


def resolve_settings(*, env: Mapping[str, str] | None = None, **given: Unpack[ClientSettings]) -> Settings:
    """Validate every setting; raise :class:`ConfigurationError` naming the fix."""
    unknown = sorted(set(given) - SETTING_NAMES)
    if unknown:
        raise ConfigurationError(
            f"Unknown setting {', '.join(map(repr, unknown))}; the settings are: {', '.join(sorted(SETTING_NAMES))}."
        )
    env = os.environ if env is None else env
    api_key = given.get("api_key")
    base_url = given.get("base_url")
    region = given.get("region")
    protocol = given.get("protocol")
    model = given.get("model")
    max_retries = given.get("max_retries")
    responses_path = given.get("responses_path")
    protocol = protocol or C.DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        raise ConfigurationError(
            f"Unknown protocol {protocol!r}.",
            hint=f"Use {{protocol}} with one of {', '.join(PROTOCOLS)} ({describe_protocols()}).",
        )
    region = C.REGION_ALIASES.get(region, region) if isinstance(region, str) else region
    if region is not None and region not in C.REGION_ROOTS:
        raise ConfigurationError(
            f"Unknown region {region!r}.",
            hint=f"Use {{region}} with one of {', '.join([*C.REGION_ROOTS, *C.REGION_ALIASES])}, or set {{base_url}}.",
        )
    if base_url:
        root = normalize_base_url(base_url)
    elif region is None and env.get(C.ENV_BASE_URL):
        root = normalize_base_url(env[C.ENV_BASE_URL])
    else:
        root = C.REGION_ROOTS[region or C.DEFAULT_REGION]
    model = C.DEFAULT_MODEL if model is None else model
    if not isinstance(model, str) or not model.strip() or model != model.strip():
        raise ConfigurationError(f"model must be a non-empty model name such as {C.DEFAULT_MODEL!r}, got {model!r}.")
    # The model table advises (the native path, the hint if the service refuses); it never
    # refuses a pair itself: the vendor's documents disagree and go stale, the service decides.
    info = lookup_model(model)
    if max_retries is None:
        max_retries = C.DEFAULT_MAX_RETRIES
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(
            f"Invalid max retries: {max_retries!r}.", hint="{max_retries} must be an integer >= 0."
        )
    extra = dict(given.get("extra_parameters") or {})
    _check_extra(extra, info)
    path = responses_path or C.RESPONSES_PATH
    if not path.startswith("/"):
        raise ConfigurationError(f"responses_path must start with '/', e.g. {C.RESPONSES_PATH!r}.")
    return Settings(
        api_key=_read_key(api_key, env),
        base_url=root,
        region=region,
        protocol=protocol,
        model=model,
        model_info=info,
        connect_timeout=_positive("connect_timeout", given.get("connect_timeout"), C.DEFAULT_CONNECT_TIMEOUT),
        idle_timeout=_positive("idle_timeout", given.get("idle_timeout"), C.DEFAULT_IDLE_TIMEOUT),
        total_timeout=_positive("total_timeout", given.get("total_timeout"), C.DEFAULT_TOTAL_TIMEOUT),
        max_retries=max_retries,
        workspace=given.get("workspace") or env.get(C.ENV_WORKSPACE) or None,
        custom_base_url=bool(base_url) or (region is None and bool(env.get(C.ENV_BASE_URL))),
        responses_path=path,
        extra_parameters=extra,
    )


def _check_extra(extra: dict[str, Any], info: ModelInfo) -> None:
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
