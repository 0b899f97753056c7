from __future__ import annotations

import qwen_ci_tool

EXPECTED = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveLimiter",
    "AnswerDelta",
    "AsyncCodeInterpreter",
    "AsyncCodeInterpreterStream",
    "AuthenticationError",
    "BadRequestError",
    "BatchOutcome",
    "BatchTask",
    "CodeInterpreter",
    "CodeInterpreterResult",
    "CodeInterpreterStream",
    "CodeRun",
    "CodeRunUpdated",
    "Completed",
    "ConfigurationError",
    "ContentFilterError",
    "InternalServerError",
    "MODELS",
    "ModelInfo",
    "ProtocolError",
    "QwenCIError",
    "RateLimitError",
    "ReasoningDelta",
    "Secret",
    "StageTracker",
    "Step",
    "StreamEvent",
    "StreamInterruptedError",
    "StreamStarted",
    "Timings",
    "Usage",
    "UsageUpdated",
    "__version__",
    "lookup_model",
    "stage_of",
]


def test_all_is_exactly_the_public_surface_and_sorted() -> None:
    assert qwen_ci_tool.__all__ == sorted(EXPECTED)


def test_public_classes_report_the_package_as_their_module() -> None:
    for name in qwen_ci_tool.__all__:
        obj = getattr(qwen_ci_tool, name)
        if isinstance(obj, type):
            assert obj.__module__ == "qwen_ci_tool", name


def test_every_error_derives_from_the_one_root() -> None:
    errors = [getattr(qwen_ci_tool, n) for n in qwen_ci_tool.__all__ if n.endswith("Error")]
    assert len(errors) == 12
    assert all(issubclass(e, qwen_ci_tool.QwenCIError) for e in errors)
    assert issubclass(qwen_ci_tool.APITimeoutError, qwen_ci_tool.APIConnectionError)


def test_sync_and_async_clients_take_the_same_keywords() -> None:
    import inspect

    for method in ("run", "stream", "run_many"):
        sync = inspect.signature(getattr(qwen_ci_tool.CodeInterpreter, method))
        asyn = inspect.signature(getattr(qwen_ci_tool.AsyncCodeInterpreter, method))
        assert list(sync.parameters) == list(asyn.parameters), method
