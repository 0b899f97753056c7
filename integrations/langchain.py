"""LangChain integration: Qwen's hosted code interpreter as a tool and as a Runnable.

```python
from langchain.agents import create_agent
from integrations.langchain import QwenCodeInterpreterTool

agent = create_agent("openai:gpt-4.1", tools=[QwenCodeInterpreterTool()])  # key: DASHSCOPE_API_KEY
agent.invoke({"messages": [{"role": "user", "content": "What is 123 to the power of 21?"}]})
```

- :class:`QwenCodeInterpreterTool` - a ``BaseTool`` named ``qwen_code_interpreter``. Its content is
  the answer and the code that ran (Markdown); its artifact is the whole result as a dict
  (``CodeInterpreterResult.from_dict`` reads it back) whose ``content_blocks`` holds each code run
  as langchain-core's standard ``server_tool_call`` / ``server_tool_result`` blocks
  (:func:`code_run_blocks`). Failures of the service come back to the
  agent as an error ``ToolMessage`` (its artifact: the partial result, if any); bugs propagate. Each stage ("thinking", "running code #1",
  "answering", ...) is sent as a custom event named ``qwen_code_interpreter_stage`` (seen by
  callbacks and ``astream_events``) and, inside a LangGraph graph, to ``stream_mode="custom"``.
  Streamed with ``stream_mode="tools"`` (LangGraph >= 1.2), it also sends ``tool-output-delta``
  events: the stages, the reasoning, each code run (with its output where the protocol returns it),
  the answer and, on failure, the error, as small dicts keyed by ``type`` (see
  :class:`~integrations._langchain_fold.ToolDeltas`).
- :class:`CodeInterpreterRunnable` - question or messages in, the result dict out; ``stream`` /
  ``astream`` yield ``AddableDict`` deltas that add up to what ``invoke`` returns. Errors are the
  core's :class:`~qwen_ci_tool.QwenCIError` subclasses, so ``with_retry`` can pick them.

Both take the core client's settings: ``api_key`` (default ``DASHSCOPE_API_KEY``), ``base_url``,
``region``, ``protocol``, ``model``, ``connect_timeout``, ``idle_timeout``, ``total_timeout``,
``max_retries``. Bad settings raise :class:`~qwen_ci_tool.ConfigurationError` at construction; a
missing key is reported when a call starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

try:
    from langchain_core.messages import BaseMessage
    from langchain_core.prompt_values import PromptValue
    from langchain_core.runnables import RunnableConfig, RunnableSerializable
    from langchain_core.runnables.utils import AddableDict
    from langchain_core.tools import BaseTool, InjectedToolArg, ToolException
    from langchain_core.utils import secret_from_env
except ImportError as exc:  # pragma: no cover - covered in a subprocess without langchain-core
    raise ImportError("integrations.langchain needs langchain-core: pip install 'qwen-ci-tool[langchain]'") from exc
from pydantic import BaseModel, Field, PrivateAttr, SecretStr, ValidationError, create_model, model_validator

from qwen_ci_tool import AsyncCodeInterpreter, CodeInterpreter, CodeInterpreterResult, QwenCIError
from qwen_ci_tool._arguments import QUESTION_ALLOWED, invalid_arguments
from qwen_ci_tool._config import SETTINGS
from qwen_ci_tool._constants import ENV_API_KEY
from qwen_ci_tool._exceptions import error_retryable

from ._langchain_blocks import code_run_blocks, with_blocks
from ._langchain_fold import (
    STAGE_EVENT,
    DeltaFolder,
    core_input,
    error_message,
    result_dict,
    tool_output,
)
from ._langchain_progress import Progress, adispatch, dispatch, fail, failed_artifact, with_artifact

__all__ = [
    "CodeInterpreterInput",
    "CodeInterpreterRunnable",
    "QwenCodeInterpreterInput",
    "QwenCodeInterpreterTool",
    "STAGE_EVENT",
    "code_run_blocks",
    "error_content",
    "is_retryable",
]

#: What :class:`CodeInterpreterRunnable` accepts: a question, ``{"question": ...}``, a prompt value,
#: or messages (LangChain messages, ``(role, text)`` tuples, or role/content dicts).
CodeInterpreterInput = (
    str
    | Mapping[str, str]
    | PromptValue
    | BaseMessage
    | Sequence[BaseMessage | Mapping[str, Any] | tuple[str, str] | str]
)


class _CoreClients:
    """The core clients of one tool or Runnable: one sync client, and one async client per event
    loop (an async client's connections belong to the loop that opened them). Calls reuse their
    connection pool and TLS sessions instead of a new client and handshake each; a change of
    settings makes a new client."""

    __slots__ = ("_async", "_lock", "_sync")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: tuple[dict[str, Any], CodeInterpreter] | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[dict[str, Any], AsyncCodeInterpreter]]
        self._async = weakref.WeakKeyDictionary()

    def sync(self, settings: dict[str, Any]) -> CodeInterpreter:
        with self._lock:
            if self._sync is None or self._sync[0] != settings:
                self._sync = (settings, CodeInterpreter(**settings))
            return self._sync[1]

    def current_loop(self, settings: dict[str, Any]) -> AsyncCodeInterpreter:
        loop = asyncio.get_running_loop()
        with self._lock:
            for closed in [other for other in self._async if other.is_closed()]:
                del self._async[closed]  # its connections died with it
            held = self._async.get(loop)
            if held is None or held[0] != settings:
                held = self._async[loop] = (settings, AsyncCodeInterpreter(**settings))
            return held[1]

    def close(self) -> None:
        with self._lock:
            held, self._sync = self._sync, None
        if held is not None:
            held[1].close()

    async def aclose(self) -> None:
        self.close()
        with self._lock:
            held = self._async.pop(asyncio.get_running_loop(), None)
        if held is not None:
            await held[1].aclose()


#: Where the key is read from when none is given, in the core's order.
_KEY_VARIABLES = (SETTINGS["api_key"].env, ENV_API_KEY)


class _SettingsBase(BaseModel):
    """The core client's settings, shared by the tool and the Runnable: the key here, the others
    one field each from the core's settings table (see :data:`_Settings`)."""

    _clients: _CoreClients = PrivateAttr(default_factory=_CoreClients)

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(list(_KEY_VARIABLES), default=None),
        description=f"DashScope API key; default: the {ENV_API_KEY} environment variable.",
    )

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": ENV_API_KEY}

    @model_validator(mode="after")
    def check_settings(self) -> Any:
        CodeInterpreter(**self._core_settings())  # validates without I/O; raises ConfigurationError
        return self

    def _core_settings(self) -> dict[str, Any]:
        return {"api_key": self._core_key(), **{name: getattr(self, name) for name in _FIELDS}}

    def _core_key(self) -> str | None:
        """The key for the core; ``None`` while it is the one the environment still gives (the
        field's default), so that the core reads it itself and its errors name the variable."""
        key = self._secret()
        if key is None or "api_key" in self.model_fields_set:
            return key
        from_env = secret_from_env(list(_KEY_VARIABLES), default=None)()
        same = from_env is not None and hmac.compare_digest(from_env.get_secret_value().encode(), key.encode())
        return None if same else key

    def _secret(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def _client(self) -> CodeInterpreter:
        return self._clients.sync(self._core_settings())

    def _aclient(self) -> AsyncCodeInterpreter:
        return self._clients.current_loop(self._core_settings())

    def close(self) -> None:
        """Close the connections the sync calls keep open for reuse (optional: they also close
        when the object is garbage-collected)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the connections this event loop's calls (and the sync calls) keep open for reuse."""
        await self._clients.aclose()


#: The settings the table offers on every face (the key apart), as fields named and described by it.
_FIELDS = tuple(name for name, row in SETTINGS.items() if row.face and name != "api_key")

if TYPE_CHECKING:
    _Settings = _SettingsBase
else:
    _Settings = create_model(
        "_Settings",
        __base__=_SettingsBase,
        __module__=__name__,
        **{
            name: (SETTINGS[name].kind | None, Field(default=None, description=SETTINGS[name].help)) for name in _FIELDS
        },
    )


# --- the tool ----------------------------------------------------------------------------------


class QwenCodeInterpreterInput(BaseModel):
    """Arguments of ``qwen_code_interpreter``."""

    question: str = Field(
        min_length=1,
        description=(
            "The task in plain language, complete with every number or piece of data it needs, "
            "e.g. 'What is 123 to the power of 21?'. Not code: the interpreter writes its own."
        ),
    )
    # Filled by LangGraph's ToolNode (a parameter named "runtime" gets the ToolRuntime); hidden from
    # the model and optional, so the tool still runs on its own.
    runtime: Annotated[Any, InjectedToolArg] = None


_DESCRIPTION = (
    "Qwen's hosted code interpreter: a model writes Python, runs it in a remote sandbox and answers "
    "from the result. Use it for exact arithmetic (big integers, exact fractions, precise decimals), "
    "data analysis or statistics on data you include in the question, and for checking a claim by "
    "running real code. The input is a natural-language task, not code. Every call starts fresh: "
    "nothing (variables, files, earlier answers) is kept between calls, so include everything the "
    "task needs. Calls are slow (often 10-60 seconds) and billed: do not use it for what you can "
    "answer reliably yourself. Returns the answer, the code that ran, and token usage."
)


def is_retryable(exc: BaseException) -> bool:
    """``retry_on`` for ``ToolRetryMiddleware``: a failure of the service that calling again,
    unchanged, may fix (:attr:`QwenCIError.retryable <qwen_ci_tool.QwenCIError.retryable>`: rate
    limits, 5xx, timeouts, broken connections and streams). Needs ``raise_errors=True`` on the tool."""
    return error_retryable(exc)


def error_content(exc: BaseException, request: Any = None) -> str | None:
    """``on_error`` for ``ToolErrorMiddleware``: the tool's own error message (what failed, what to
    do) for a failure of the service; ``None`` (let it propagate) for anything else, such as a bug."""
    if not isinstance(exc, QwenCIError):
        return None
    call = getattr(request, "tool_call", None)  # the middleware's request: the name the model called
    name = call.get("name") if isinstance(call, dict) else None
    return error_message(exc, tool=name) if isinstance(name, str) and name else error_message(exc)


class QwenCodeInterpreterTool(_Settings, BaseTool):
    """Qwen's code interpreter as a LangChain tool, for ``create_agent`` and any tool-calling model.

    Setup: ``pip install 'qwen-ci-tool[langchain]'`` and ``export DASHSCOPE_API_KEY=sk-...``.

    >>> tool = QwenCodeInterpreterTool()                     # doctest: +SKIP
    >>> tool.invoke({"question": "What is 123 to the power of 21?"})   # content only  # doctest: +SKIP
    >>> msg = tool.invoke({"name": "qwen_code_interpreter", "args": {"question": "..."},
    ...                    "id": "call_1", "type": "tool_call"})       # doctest: +SKIP
    >>> msg.content, msg.artifact["answer"], msg.artifact["code_runs"]  # doctest: +SKIP

    Invoked with a tool call (as agents do) it returns a ``ToolMessage`` whose ``artifact`` is the
    result dict; invoked with plain arguments LangChain returns the content only.

    A failure of the service (bad key, rate limit, timeout, broken stream, ...) is raised as
    :class:`~langchain_core.tools.ToolException` and, with ``handle_tool_error=True`` (the default
    here), reaches the agent as a ``ToolMessage`` with ``status="error"`` saying what happened,
    whether calling again can help and what to do (in the same words as the MCP tool). Its
    ``artifact`` is the partial result when something arrived before the failure. An answer that
    did not finish (e.g. the length limit) is an error message too, saying so, with the result as
    its artifact. With ``raise_errors=True`` it is raised as the core's :class:`~qwen_ci_tool.QwenCIError`
    instead, for agent middleware to retry (:func:`is_retryable`) or report (:func:`error_content`).
    """

    name: str = "qwen_code_interpreter"
    description: str = _DESCRIPTION
    args_schema: type[BaseModel] = QwenCodeInterpreterInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Callable[[ToolException], Any] | None = True
    include_reasoning: bool = Field(
        default=False, description="Also put the model's reasoning in the content the agent reads."
    )
    raise_errors: bool = Field(
        default=False,
        description=(
            "Raise the core's QwenCIError (with .retryable and .partial) instead of returning an error "
            "ToolMessage, for agent middleware: ToolRetryMiddleware(retry_on=is_retryable) and "
            "ToolErrorMiddleware(error_content)."
        ),
    )

    def run(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        with failed_artifact() as box:
            return with_artifact(super().run(tool_input, *args, **kwargs), box)

    async def arun(self, tool_input: Any, *args: Any, **kwargs: Any) -> Any:
        with failed_artifact() as box:
            return with_artifact(await super().arun(tool_input, *args, **kwargs), box)

    def _parse_input(self, tool_input: str | dict[str, Any], tool_call_id: str | None) -> str | dict[str, Any]:
        # Arguments that do not fit the args schema fail as the tool's other errors do, in its words.
        with self._tool_errors(Progress(None)):
            try:
                return super()._parse_input(tool_input, tool_call_id)
            except ValidationError as exc:
                raise invalid_arguments(self.name, exc.errors(), {"question": QUESTION_ALLOWED}) from None

    @contextlib.contextmanager
    def _tool_errors(self, progress: Progress) -> Iterator[None]:
        try:
            yield
        except QwenCIError as err:
            message = error_message(err, self._secret(), include_reasoning=self.include_reasoning, tool=self.name)
            progress.failed(err, message)
            if self.raise_errors:
                raise
            partial = err.partial
            raise fail(message, with_blocks(partial, result_dict(partial)) if partial is not None else None) from err

    def _output(self, result: CodeInterpreterResult) -> tuple[str, dict[str, Any]]:
        content, artifact, ok = tool_output(result, include_reasoning=self.include_reasoning)
        artifact = with_blocks(result, artifact)
        if not ok:  # unfinished (e.g. the length limit): an error the model must not take for an answer
            secret = self._secret()
            raise fail(content.replace(secret, "**********") if secret else content, artifact)
        return content, artifact

    def _run(self, question: str, runtime: Any = None) -> tuple[str, dict[str, Any]]:
        progress = Progress(runtime)
        with self._tool_errors(progress), self._client().stream(question) as stream:
            for event in stream:
                if (stage := progress.feed(event)) is not None:
                    dispatch(stage)
            result = stream.get_final_result()
        return self._output(result)

    async def _arun(self, question: str, runtime: Any = None) -> tuple[str, dict[str, Any]]:
        progress = Progress(runtime)
        with self._tool_errors(progress):
            async with self._aclient().stream(question) as stream:
                async for event in stream:
                    if (stage := progress.feed(event)) is not None:
                        await adispatch(stage)
                result = await stream.get_final_result()
        return self._output(result)


# --- the Runnable ------------------------------------------------------------------------------


def _fold_inputs(inputs: Iterator[Any]) -> Any:
    # Input chunks arrive from an upstream stream (e.g. a string parser): add them up, as LCEL does.
    final: Any = None
    for chunk in inputs:
        final = chunk if final is None else final + chunk
    return final


async def _afold_inputs(inputs: AsyncIterator[Any]) -> Any:
    final: Any = None
    async for chunk in inputs:
        final = chunk if final is None else final + chunk
    return final


async def _aiter_one(value: Any) -> AsyncIterator[Any]:
    yield value


class CodeInterpreterRunnable(_Settings, RunnableSerializable[CodeInterpreterInput, dict[str, Any]]):
    """One code-interpreter call as a Runnable: question or messages in, the result dict out.

    >>> r = CodeInterpreterRunnable()                                    # doctest: +SKIP
    >>> r.invoke("What is 123 to the power of 21?")["answer"]            # doctest: +SKIP
    >>> for delta in r.stream([("system", "Be brief."), ("human", "2**100?")]):  # doctest: +SKIP
    ...     print(delta)   # {'request_id': ...}, {'reasoning': ...}, {'code_runs': [...]}, {'answer': ...}

    The output is ``CodeInterpreterResult.to_dict()`` plus ``usage_metadata``. ``stream`` and
    ``astream`` yield the result as it arrives, as deltas that ``+`` folds into ``invoke``'s output,
    so LCEL chains get the same value either way. Raises :class:`~qwen_ci_tool.QwenCIError`
    subclasses (``ConfigurationError`` for unusable input).
    """

    def invoke(
        self, input: CodeInterpreterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return self._call_with_config(self._invoke, input, config)

    async def ainvoke(
        self, input: CodeInterpreterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        return await self._acall_with_config(self._ainvoke, input, config)

    def stream(
        self, input: CodeInterpreterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        return self.transform(iter([input]), config)

    def transform(
        self, input: Iterator[CodeInterpreterInput], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        return self._transform_stream_with_config(input, self._deltas, config)

    async def astream(
        self, input: CodeInterpreterInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        async with contextlib.aclosing(self.atransform(_aiter_one(input), config)) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                yield chunk

    async def atransform(
        self, input: AsyncIterator[CodeInterpreterInput], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        chunks = self._atransform_stream_with_config(input, self._adeltas, config)
        async with contextlib.aclosing(chunks):  # type: ignore[type-var]
            async for chunk in chunks:
                yield chunk

    def _invoke(self, input: CodeInterpreterInput) -> dict[str, Any]:
        question, messages = core_input(input)
        return result_dict(self._client().run(question, messages=messages))

    async def _ainvoke(self, input: CodeInterpreterInput) -> dict[str, Any]:
        question, messages = core_input(input)
        return result_dict(await self._aclient().run(question, messages=messages))

    def _deltas(self, inputs: Iterator[CodeInterpreterInput]) -> Iterator[AddableDict]:
        question, messages = core_input(_fold_inputs(inputs))
        folder = DeltaFolder()
        with self._client().stream(question, messages=messages) as stream:
            for event in stream:
                if (delta := folder.feed(event)) is not None:
                    yield delta

    async def _adeltas(self, inputs: AsyncIterator[CodeInterpreterInput]) -> AsyncIterator[AddableDict]:
        question, messages = core_input(await _afold_inputs(inputs))
        folder = DeltaFolder()
        async with self._aclient().stream(question, messages=messages) as stream:
            async for event in stream:
                if (delta := folder.feed(event)) is not None:
                    yield delta
