"""The service's endpoints, and the request checks the real service makes before it streams.

Model rules live in one table here (they change several times a year); everything else about a
request - key, streaming switch, thinking, interpreter, tools - is checked per endpoint family.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, Literal

from ._wire import Shape

__all__ = [
    "ENDPOINTS",
    "LISTED_MODELS",
    "MODELS_PATH",
    "MULTIMODAL_MODEL_PREFIXES",
    "WORKSPACE_HOST_SUFFIX",
    "Accepted",
    "Endpoint",
    "Rejection",
    "check_auth",
    "check_request",
]


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: Literal["text-generation", "multimodal", "chat", "responses"]
    shape: Shape  # the error-body shape
    family: Literal["native", "openai"]  # which recorded run of a scripted question it serves

    @property
    def protocol(self) -> str:
        """The client-side protocol name this endpoint speaks."""
        return {"chat": "openai", "responses": "responses"}.get(self.name, "dashscope")


#: The OpenAI-compatible model list: an authenticated GET that costs no tokens (``qwen-ci doctor``).
MODELS_PATH: Final = "/compatible-mode/v1/models"

#: What the emulated service lists there (it serves any other name too, except ``unknown_models``).
LISTED_MODELS: Final = (
    "qwen3-max",
    "qwen3-max-preview",
    "qwen3-max-2026-01-23",
    "qwen3.5-plus",
    "qwen3.5-flash",
    "qwen3.6-plus",
    "qwen3.6-max",
    "qwen3.7-plus",
    "qwen-plus",
)

#: Workspace hosts (``https://{WorkspaceId}.{region}.maas.aliyuncs.com``) shape their errors differently.
WORKSPACE_HOST_SUFFIX: Final = ".maas.aliyuncs.com"


ENDPOINTS: Final[dict[str, Endpoint]] = {
    "/api/v1/services/aigc/text-generation/generation": Endpoint("text-generation", "dashscope", "native"),
    "/api/v1/services/aigc/multimodal-generation/generation": Endpoint("multimodal", "dashscope", "native"),
    "/compatible-mode/v1/chat/completions": Endpoint("chat", "openai", "openai"),
    "/compatible-mode/v1/responses": Endpoint("responses", "responses", "native"),
    # The legacy Responses base the international docs still show.
    "/api/v2/apps/protocols/compatible-mode/v1/responses": Endpoint("responses", "responses", "native"),
}

# Qwen3.5 and newer are served by the multimodal-generation path; the text-generation path
# answers them with a URL error.
MULTIMODAL_MODEL_PREFIXES: Final = ("qwen3.5", "qwen3.6", "qwen3.7", "qwen3.8", "qwen-flash", "qwen3-flash")


@dataclass(frozen=True, slots=True)
class Rejection:
    """An error answer: HTTP status, DashScope code, message."""

    status: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the emulator needs from a valid request."""

    model: str
    question: str
    stream: bool
    include_usage: bool


def check_auth(headers: dict[str, str], api_key: str | None, endpoint: Endpoint) -> Rejection | None:
    """401 ``InvalidApiKey`` without a bearer key, or with the wrong one when ``api_key`` is set."""
    scheme, _, key = headers.get("authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        message = "You didn't provide an API key." if endpoint.shape == "openai" else "No API-key provided."
        return Rejection(401, "InvalidApiKey", message)
    if api_key is not None and not hmac.compare_digest(key.encode(), api_key.encode()):
        message = "Incorrect API key provided." if endpoint.shape == "openai" else "Invalid API-key provided."
        return Rejection(401, "InvalidApiKey", message)
    return None


def _text_of(content: Any) -> str | None:
    """The text of a message's content: a string, or a list of ``{"text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(texts)
    return None


def _last_user_text(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role", "user") == "user":
            return _text_of(message.get("content"))
    return None


def _bad(message: str) -> Rejection:
    return Rejection(400, "InvalidParameter", message)


def _check_model(
    model: Any, endpoint: Endpoint, unknown_models: Collection[str], refused_pairs: Collection[tuple[str, str]]
) -> Rejection | None:
    if not isinstance(model, str) or not model:
        return _bad("Model not specified: set the 'model' field.")
    if model in unknown_models:
        return Rejection(404, "Model.NotExist", "Model not exist.")
    if (model, endpoint.protocol) in refused_pairs:
        # The live wording for this refusal is not published; this one says what happened.
        return _bad(f"The code interpreter is not supported by model {model} on this API.")
    return None


def check_request(
    endpoint: Endpoint,
    headers: dict[str, str],
    body: Any,
    unknown_models: Collection[str],
    refused_pairs: Collection[tuple[str, str]] = (),
) -> Accepted | Rejection:
    """Validate one request as the real endpoint does, or say why it would refuse it."""
    if not isinstance(body, dict):
        return _bad("The request body is not a valid JSON object.")
    model = body.get("model")
    if rejected := _check_model(model, endpoint, unknown_models, refused_pairs):
        return rejected
    assert isinstance(model, str)
    if endpoint.name in ("text-generation", "multimodal"):
        return _check_native(endpoint, headers, body, model)
    if endpoint.name == "chat":
        return _check_chat(body, model)
    return _check_responses(body, model)


def _check_native(
    endpoint: Endpoint, headers: dict[str, str], body: dict[str, Any], model: str
) -> Accepted | Rejection:
    if endpoint.name == "text-generation" and model.startswith(MULTIMODAL_MODEL_PREFIXES):
        return _bad(
            "url error, please check url\uff01 For details, see: https://help.aliyun.com/zh/model-studio/error-code"
        )
    payload = body.get("input")
    if not isinstance(payload, dict):
        return _bad("Input is required: set 'input.messages'.")
    question = _last_user_text(payload.get("messages"))
    if question is None and isinstance(payload.get("prompt"), str):
        question = payload["prompt"]
    if question is None:
        return _bad("Input is required: 'input.messages' must hold a user message.")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        return _bad("'parameters' must be an object.")
    if rejected := _check_switches(parameters, streaming=headers.get("x-dashscope-sse", "").lower() == "enable"):
        return rejected
    if parameters.get("incremental_output") is False:
        return _bad("The emulator only produces incremental output: set parameters.incremental_output to true.")
    if parameters.get("result_format", "message") != "message":
        return _bad("The code interpreter requires parameters.result_format to be 'message'.")
    return Accepted(model, question, stream=True, include_usage=True)


def _check_switches(options: dict[str, Any], *, streaming: bool) -> Rejection | None:
    """The interpreter's own preconditions, shared by native and Chat Completions requests."""
    if not options.get("enable_code_interpreter"):
        return _bad("The emulator only serves code-interpreter requests: set enable_code_interpreter to true.")
    if options.get("tools"):
        return _bad("The code interpreter and function calling (tools) cannot be enabled at the same time.")
    if options.get("enable_thinking") is not True:
        return _bad("The code interpreter only supports thinking mode: set enable_thinking to true.")
    if not streaming:
        return _bad("The code interpreter only supports streaming output: enable the stream parameter.")
    return None


def _check_chat(body: dict[str, Any], model: str) -> Accepted | Rejection:
    question = _last_user_text(body.get("messages"))
    if question is None:
        return _bad("'messages' must be a non-empty list ending with a user message.")
    if rejected := _check_switches(body, streaming=body.get("stream") is True):
        return rejected
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return Accepted(model, question, stream=True, include_usage=include_usage)


def _check_responses(body: dict[str, Any], model: str) -> Accepted | Rejection:
    payload = body.get("input")
    question = payload if isinstance(payload, str) else _last_user_text(payload)
    if question is None:
        return _bad("'input' must be a string or a list of messages.")
    tools = body.get("tools")
    if not isinstance(tools, list) or not any(
        isinstance(t, dict) and t.get("type") == "code_interpreter" for t in tools
    ):
        return _bad('The emulator only serves code-interpreter requests: add {"type": "code_interpreter"} to tools.')
    if body.get("enable_thinking") is False:
        return _bad("The code interpreter only supports thinking mode: set enable_thinking to true.")
    return Accepted(model, question, stream=body.get("stream") is True, include_usage=True)
