"""The emulator's request paths, headers and bodies, as the tests of tests/testing post them."""

from __future__ import annotations

from typing import Any

from qwen_ci_tool.testing import SEED_QUESTION

TEXT_GENERATION = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
RESPONSES = "/compatible-mode/v1/responses"
HEADERS = {"authorization": "Bearer sk-test", "x-dashscope-sse": "enable"}


def native_body(
    question: str = SEED_QUESTION, model: str = "qwen3-max-preview", *, parts: bool = False, **parameters: Any
) -> dict[str, Any]:
    """A DashScope native body; ``parts`` sends the question as a list of parts (multimodal)."""
    content: Any = [{"text": question}] if parts else question
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": content}]},
        "parameters": {
            "enable_code_interpreter": True,
            "enable_thinking": True,
            "result_format": "message",
            "incremental_output": True,
            **parameters,
        },
    }


def chat_body(question: str = SEED_QUESTION, *, include_usage: bool = False, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "qwen3-max-preview",
        "messages": [{"role": "user", "content": question}],
        "stream": True,
        "enable_code_interpreter": True,
        "enable_thinking": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return body | overrides


def responses_body(question: str = SEED_QUESTION, model: str = "qwen3-max", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "input": question,
        "tools": [{"type": "code_interpreter"}],
        "stream": True,
        "enable_thinking": True,
    }
    return body | overrides
