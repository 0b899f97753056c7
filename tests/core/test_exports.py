from __future__ import annotations

import qwen_ci_tool

# The public surface by theme (the test sorts it: ``__all__`` is kept sorted).
CLIENTS = "CodeInterpreter AsyncCodeInterpreter CodeInterpreterStream AsyncCodeInterpreterStream"
RESULTS = "CodeInterpreterResult Completed StreamEvent CodeRun Step Timings Usage"
EVENTS = "StreamStarted AnswerDelta ReasoningDelta CodeRunUpdated UsageUpdated StageTracker stage_of"
ERRORS = (
    "QwenCIError ConfigurationError APIConnectionError APITimeoutError APIStatusError AuthenticationError"
    " BadRequestError RateLimitError InternalServerError ContentFilterError ProtocolError StreamInterruptedError"
)
BATCHES_AND_MODELS = "AdaptiveLimiter BatchTask BatchOutcome MODELS ModelInfo lookup_model Secret __version__"
EXPECTED = f"{CLIENTS} {RESULTS} {EVENTS} {ERRORS} {BATCHES_AND_MODELS}".split()


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


def test_the_public_classes_type_hints_resolve_though_they_report_the_package_as_their_module() -> None:
    """typing.get_type_hints (which pydantic, cattrs and FastAPI call) looks names up in the module __module__
    names: the annotations are resolved before the package takes the classes over."""
    import typing

    import qwen_ci_tool.testing

    for package in (qwen_ci_tool, qwen_ci_tool.testing):
        classes = [getattr(package, n) for n in package.__all__ if isinstance(getattr(package, n), type)]
        assert len(classes) >= 7
        for cls in classes:
            assert cls.__module__ == package.__name__, cls
            typing.get_type_hints(cls)


def test_a_result_round_trips_through_pydantic_as_an_application_model_field_would() -> None:
    import pydantic

    from qwen_ci_tool.testing import SEED_QUESTION, Emulator

    with Emulator() as emu, qwen_ci_tool.CodeInterpreter(api_key="sk-test", base_url=emu.base_url) as ci:
        result = ci.run(SEED_QUESTION)
    adapter = pydantic.TypeAdapter(qwen_ci_tool.CodeInterpreterResult)
    dumped = adapter.dump_json(result)
    assert adapter.validate_json(dumped) == result
    assert adapter.json_schema()["properties"]["status"]["enum"] == ["completed", "incomplete"]

    class Answered(pydantic.BaseModel):  # the README's "a field of a pydantic model"
        question: str
        result: qwen_ci_tool.CodeInterpreterResult

    answered = Answered(question=SEED_QUESTION, result=result)
    assert Answered.model_validate_json(answered.model_dump_json()).result == result
