"""Builders of wire frames for the pure tests (the emulator renders the real conversations)."""

from __future__ import annotations

import json
from typing import Any


def native_frame(
    i: int,
    *,
    content: Any = "",
    reasoning: str = "",
    tools: list[str] | None = None,
    finish: str = "null",
    usage: dict[str, Any] | None = None,
    request_id: str = "rid-native",
) -> str:
    output: dict[str, Any] = {
        "choices": [
            {
                "message": {"content": content, "reasoning_content": reasoning, "role": "assistant"},
                "finish_reason": finish,
            }
        ]
    }
    if tools is not None:
        output["tool_info"] = [{"code_interpreter": {"code": c}, "type": "code_interpreter"} for c in tools]
    return native_output_frame(i, output, usage=usage, request_id=request_id)


def native_output_frame(
    i: int, output: dict[str, Any], *, usage: dict[str, Any] | None = None, request_id: str = "rid-native"
) -> str:
    """A native frame holding *output* as given (a frame without choices, a choice without a message, ...)."""
    body = {
        "output": output,
        "usage": usage or {"total_tokens": 10 + i, "output_tokens": i, "input_tokens": 10},
        "request_id": request_id,
    }
    return f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(body, separators=(',', ':'), ensure_ascii=False)}\n\n"


def native_stream() -> str:
    """Thinking, a run that appears empty then fills, more thinking, a multi-byte answer, stop."""
    usage_end = {
        "total_tokens": 997,
        "output_tokens": 263,
        "input_tokens": 734,
        "output_tokens_details": {"reasoning_tokens": 171},
        "plugins": {"code_interpreter": {"count": 1}},
    }
    return "".join(
        [
            native_frame(1, reasoning="I will"),
            native_frame(2, reasoning=" compute it."),
            native_frame(3, tools=[""]),
            native_frame(4, tools=["123**21"]),
            native_frame(5, reasoning="The result is big.", tools=["123**21"]),
            native_frame(6, content="Résultat: ", tools=["123**21"]),
            native_frame(7, content="7726936446654986565307347338803006152221172 3 ✓", tools=["123**21"]),
            native_frame(8, tools=["123**21"], finish="stop", usage=usage_end),
        ]
    )


def chat_chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {
        "choices": [] if usage else [{"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}],
        "object": "chat.completion.chunk",
        "usage": usage,
        "id": "chatcmpl-1",
        "model": "qwen3-max",
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def chat_stream() -> str:
    return "".join(
        [
            chat_chunk({"content": None, "role": "assistant", "reasoning_content": ""}),
            chat_chunk({"content": None, "reasoning_content": "Thinking"}),
            chat_chunk({"content": "42", "reasoning_content": None}),
            chat_chunk({"content": "", "reasoning_content": None}, finish="stop"),
            chat_chunk(
                {},
                usage={
                    "prompt_tokens": 5,
                    "completion_tokens": 7,
                    "total_tokens": 12,
                    "completion_tokens_details": {"reasoning_tokens": 3},
                },
            ),
            "data: [DONE]\n\n",
        ]
    )


def responses_event(kind: str, **fields: Any) -> str:
    body = {"type": kind, "sequence_number": 0, **fields}
    return f"event: {kind}\ndata: {json.dumps(body, ensure_ascii=False)}\n\n"


def responses_stream() -> str:
    item = {"type": "code_interpreter_call", "id": "ci_1", "status": "in_progress", "code": "", "container_id": "c-1"}
    done = {**item, "status": "completed", "code": "print(6*7)", "outputs": [{"type": "logs", "logs": "42\n"}]}
    return "".join(
        [
            responses_event("response.created", response={"id": "resp_1", "status": "queued"}),
            responses_event("response.in_progress", response={"id": "resp_1", "status": "in_progress"}),
            responses_event("response.reasoning_text.delta", delta="Let me run it."),
            responses_event("response.output_item.added", item=item),
            responses_event("response.code_interpreter_call.in_progress", item_id="ci_1"),
            responses_event("response.code_interpreter_call.interpreting", item_id="ci_1"),
            responses_event("response.code_interpreter_call.completed", item_id="ci_1"),
            responses_event("response.output_item.done", item=done),
            responses_event("response.output_text.delta", delta="It is 42."),
            responses_event(
                "response.completed",
                response={
                    "id": "resp_1",
                    "status": "completed",
                    "usage": {
                        "input_tokens": 50,
                        "output_tokens": 20,
                        "total_tokens": 70,
                        "output_tokens_details": {"reasoning_tokens": 8},
                        "x_tools": {"code_interpreter": {"count": 1}},
                    },
                },
            ),
        ]
    )
