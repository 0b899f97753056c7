"""A LangChain agent (``create_agent``) that hands exact work to Qwen's code interpreter.

    python examples/langchain_agent.py --offline
        no key, no network: the local emulator answers, a scripted chat model drives the agent
    python examples/langchain_agent.py --model openai:gpt-4.1
        any chat model ``init_chat_model`` knows ("provider:name"; needs that provider's package
        and key), plus DASHSCOPE_API_KEY for the tool
    python examples/langchain_agent.py --model openai:qwen3-max \\
        --model-base-url https://dashscope.aliyuncs.com/compatible-mode/v1 --model-api-key-env DASHSCOPE_API_KEY
        Qwen itself as the agent's model, through langchain-openai at DashScope's compatible endpoint

The agent is built the recommended way (see ``build_agent``): the tool raises its failures, a
``ToolRetryMiddleware`` calls it again when the failure is transient, a ``ToolErrorMiddleware``
turns what is left into an error message the model can act on, and a ``ToolCallLimitMiddleware``
caps the slow, billed calls per run. It streams with ``stream_mode=["tools", "values"]`` and prints
each stage while the tool runs (``--deltas``: every ``tool-output-delta`` as JSON), then the
agent's final message and a summary of the tool's artifact (the full result record).
``--offline --flaky`` breaks the emulator's first stream midway to show the retry.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ToolCallLimitMiddleware, ToolErrorMiddleware, ToolRetryMiddleware
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from integrations.langchain import QwenCodeInterpreterTool, error_content, is_retryable

SEED_QUESTION = "What is 123 to the power of 21?"


def one_line(text: str) -> str:
    return " ".join(text.split())


class ScriptedChatModel(FakeMessagesListChatModel):
    """Stands in for a real model offline: calls the tool once, then reports the tool's answer."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self  # create_agent binds the tools; the script already knows which one to call

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        if not isinstance(last, ToolMessage):
            return super()._generate(messages, stop, run_manager, **kwargs)
        if last.status == "error":
            text = f"The code interpreter failed: {last.content}"
        else:
            text = f"According to the code interpreter: {one_line(last.artifact['answer'])}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def scripted_model(question: str) -> ScriptedChatModel:
    call = {"name": "qwen_code_interpreter", "args": {"question": question}, "id": "call_1", "type": "tool_call"}
    return ScriptedChatModel(responses=[AIMessage(content="", tool_calls=[call])])


def build_agent(model: BaseChatModel, tool: QwenCodeInterpreterTool, *, retry_delay: float = 1.0) -> Any:
    """The recommended set-up: retry what is transient, report the rest, cap the calls."""
    return create_agent(
        model,
        tools=[tool],
        system_prompt="Use qwen_code_interpreter for exact arithmetic.",
        middleware=[
            # Slow and billed: at most 3 calls a run; further calls get an error message instead.
            ToolCallLimitMiddleware(tool_name=tool.name, run_limit=3),
            # Outer: a failure that is left (not transient, or retries used up) becomes an error
            # ToolMessage in the tool's words; anything that is not a service failure propagates.
            ToolErrorMiddleware(error_content, tools=[tool]),
            # Inner: call again on rate limits, 5xx, timeouts and broken streams (QwenCIError.retryable).
            ToolRetryMiddleware(
                tools=[tool], retry_on=is_retryable, max_retries=2, initial_delay=retry_delay, on_failure="error"
            ),
        ],
    )


@contextlib.contextmanager
def offline_setup(question: str, *, flaky: bool) -> Iterator[tuple[BaseChatModel, QwenCodeInterpreterTool]]:
    from qwen_ci_tool.testing import Emulator, Fault

    with Emulator() as emulator:
        if flaky:
            emulator.add_fault(Fault.drop(after_events=5))  # the first stream breaks midway
        tool = QwenCodeInterpreterTool(api_key="sk-offline", base_url=emulator.base_url, raise_errors=True)
        yield scripted_model(question), tool


@contextlib.contextmanager
def online_setup(args: argparse.Namespace) -> Iterator[tuple[BaseChatModel, QwenCodeInterpreterTool]]:
    options: dict[str, Any] = {}
    if args.model_base_url:
        options["base_url"] = args.model_base_url
    if args.model_api_key_env:
        options["api_key"] = os.environ.get(args.model_api_key_env, "")
    yield init_chat_model(args.model, **options), QwenCodeInterpreterTool(protocol=args.protocol, raise_errors=True)


def summarize(artifact: dict[str, Any]) -> list[str]:
    usage = artifact["usage"]
    lines = [f"  answer:     {one_line(artifact['answer'])}"]
    lines += [f"  code run #{run['index'] + 1}: {run['code']}" for run in artifact["code_runs"]]
    lines.append(
        f"  usage:      {usage['total_tokens']} tokens ({usage['reasoning_tokens']} reasoning), "
        f"{usage['code_interpreter_calls']} interpreter call(s)"
    )
    lines.append(f"  status:     {artifact['status']}, request id {artifact['request_id']}")
    return lines


def show(delta: dict[str, Any], *, every: bool) -> None:
    """Renders a tool-output-delta: a stage, more reasoning or answer, a code run, or the error."""
    if every:
        print(f"  {json.dumps(delta, ensure_ascii=False)}", flush=True)
    elif delta["type"] == "stage":
        print(f"  [{delta['stage']}]", flush=True)
    elif delta["type"] == "error":
        print(f"  [failed: {delta['error']}{', will retry' if delta['retryable'] else ''}]", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("question", nargs="?", default=SEED_QUESTION)
    parser.add_argument("--offline", action="store_true", help="use the local emulator and a scripted model")
    parser.add_argument("--model", default="openai:gpt-4.1", help="provider:name for init_chat_model")
    parser.add_argument("--model-base-url", help="base URL for the agent's model (e.g. an OpenAI-compatible one)")
    parser.add_argument("--model-api-key-env", help="environment variable holding the agent model's key")
    parser.add_argument("--protocol", default="dashscope", help="the tool's protocol: dashscope, openai, responses")
    parser.add_argument("--deltas", action="store_true", help="print every tool-output-delta as JSON")
    parser.add_argument("--flaky", action="store_true", help="with --offline: break the first stream to show the retry")
    args = parser.parse_args(argv)

    if not args.offline and not os.environ.get("DASHSCOPE_API_KEY"):
        print("Set DASHSCOPE_API_KEY for the code interpreter, or try --offline.", file=sys.stderr)
        return 2
    setup = offline_setup(args.question, flaky=args.flaky) if args.offline else online_setup(args)
    with setup as (model, tool):
        agent = build_agent(model, tool, retry_delay=0.0 if args.offline else 1.0)
        state: dict[str, Any] = {}
        inputs = {"messages": [{"role": "user", "content": args.question}]}
        for mode, chunk in agent.stream(inputs, stream_mode=["tools", "values"]):
            if mode == "values":
                state = chunk
            elif chunk["event"] == "tool-output-delta":
                show(chunk["delta"], every=args.deltas)
            elif chunk["event"] == "tool-error":
                print(f"  tool call {chunk['tool_call_id']} failed", flush=True)

    messages = state["messages"]
    print(f"Final message: {messages[-1].content}")
    for message in messages:
        if isinstance(message, ToolMessage):
            print(f"Tool call {message.tool_call_id} ({message.status}):")
            print("\n".join(summarize(message.artifact)) if message.artifact else f"  {message.content}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
