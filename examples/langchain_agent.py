"""A LangChain agent (``create_agent``) that hands exact work to Qwen's code interpreter.

    python examples/langchain_agent.py --offline
        no key, no network: the local emulator answers, a scripted chat model drives the agent
    python examples/langchain_agent.py --model openai:gpt-4.1
        any chat model ``init_chat_model`` knows ("provider:name"; needs that provider's package
        and key), plus DASHSCOPE_API_KEY for the tool
    python examples/langchain_agent.py --model openai:qwen3-max \\
        --model-base-url https://dashscope.aliyuncs.com/compatible-mode/v1 --model-api-key-env DASHSCOPE_API_KEY
        Qwen itself as the agent's model, through langchain-openai at DashScope's compatible endpoint

Prints each stage while the tool runs, then the agent's final message and a summary of the
tool's artifact (the full result record).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from integrations.langchain import QwenCodeInterpreterTool

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


@contextlib.contextmanager
def offline_setup(question: str) -> Iterator[tuple[BaseChatModel, QwenCodeInterpreterTool]]:
    from qwen_ci_tool.testing import Emulator

    with Emulator() as emulator:
        yield scripted_model(question), QwenCodeInterpreterTool(api_key="sk-offline", base_url=emulator.base_url)


@contextlib.contextmanager
def online_setup(args: argparse.Namespace) -> Iterator[tuple[BaseChatModel, QwenCodeInterpreterTool]]:
    options: dict[str, Any] = {}
    if args.model_base_url:
        options["base_url"] = args.model_base_url
    if args.model_api_key_env:
        options["api_key"] = os.environ.get(args.model_api_key_env, "")
    yield init_chat_model(args.model, **options), QwenCodeInterpreterTool(protocol=args.protocol)


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("question", nargs="?", default=SEED_QUESTION)
    parser.add_argument("--offline", action="store_true", help="use the local emulator and a scripted model")
    parser.add_argument("--model", default="openai:gpt-4.1", help="provider:name for init_chat_model")
    parser.add_argument("--model-base-url", help="base URL for the agent's model (e.g. an OpenAI-compatible one)")
    parser.add_argument("--model-api-key-env", help="environment variable holding the agent model's key")
    parser.add_argument("--protocol", default="dashscope", help="the tool's protocol: dashscope, openai, responses")
    args = parser.parse_args(argv)

    if not args.offline and not os.environ.get("DASHSCOPE_API_KEY"):
        print("Set DASHSCOPE_API_KEY for the code interpreter, or try --offline.", file=sys.stderr)
        return 2
    setup = offline_setup(args.question) if args.offline else online_setup(args)
    with setup as (model, tool):
        agent = create_agent(model, tools=[tool], system_prompt="Use qwen_code_interpreter for exact arithmetic.")
        state: dict[str, Any] = {}
        inputs = {"messages": [{"role": "user", "content": args.question}]}
        for mode, chunk in agent.stream(inputs, stream_mode=["custom", "values"]):
            if mode == "custom":
                print(f"  [{chunk['stage']}]", flush=True)
            else:
                state = chunk

    messages = state["messages"]
    print(f"Final message: {messages[-1].content}")
    for message in messages:
        if isinstance(message, ToolMessage):
            print(f"Tool call {message.tool_call_id} ({message.status}):")
            print("\n".join(summarize(message.artifact)) if message.artifact else f"  {message.content}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
