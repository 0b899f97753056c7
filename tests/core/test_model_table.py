"""The model table advises and never refuses: every model and protocol pair is sent as asked, the
table picks the native path, and a refusal by the service carries the table's hint."""

from __future__ import annotations

import io

import pytest

from qwen_ci_tool import MODELS, BadRequestError, CodeInterpreter, _model_table, lookup_model
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.flags import CLI
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

PROTOCOLS = ("dashscope", "openai", "responses")
TABLE_NAMES = sorted({row.pattern.replace("*", "x") for row in MODELS})


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_model_in_the_table_is_sent_over_every_protocol(protocol: str, emu: Emulator) -> None:
    for model in TABLE_NAMES:
        with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, model=model, protocol=protocol) as ci:
            result = ci.run(SEED_QUESTION)
        assert result.status == "completed" and SEED_ANSWER in result.answer, model
    sent = [(r.path, r.json["model"]) for r in emu.requests]
    assert [m for _, m in sent] == TABLE_NAMES
    if protocol == "dashscope":
        # The table picks the native path: Qwen3.5 and newer take the multimodal one.
        paths = {m: p.rsplit("/", 2)[-2] for p, m in sent}
        assert paths["qwen3-max"] == "text-generation"
        assert paths["qwen3.7-plusx"] == paths["qwen3.5-plus"] == "multimodal-generation"


def test_a_pair_the_service_refuses_carries_the_protocol_the_documents_show() -> None:
    with Emulator(refused_pairs=[("qwen3.6-max", "openai")]) as emu:
        with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, model="qwen3.6-max", protocol="openai") as ci:
            with pytest.raises(BadRequestError) as caught:
                ci.run(SEED_QUESTION)
        assert len(emu.requests) == 1, "the pair was sent, and refused by the service"
    text = str(caught.value)
    assert "not supported by model qwen3.6-max" in text
    assert "documented for the code interpreter over `responses`: try protocol='responses'" in text


def test_a_refused_pair_the_documents_disagree_about_says_so() -> None:
    with Emulator(refused_pairs=[("qwen3.7-plus", "dashscope")]) as emu:
        with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, model="qwen3.7-plus") as ci:
            with pytest.raises(BadRequestError) as caught:
                ci.run(SEED_QUESTION)
    assert "try protocol='responses'" in str(caught.value)
    assert "The documents disagree about 'dashscope'" in str(caught.value)


def test_a_refusal_of_a_documented_pair_gets_the_ordinary_hint() -> None:
    with Emulator(refused_pairs=[("qwen3-max", "openai")]) as emu:
        with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, protocol="openai") as ci:
            with pytest.raises(BadRequestError) as caught:
                ci.run(SEED_QUESTION)
    assert "try protocol=" not in str(caught.value)
    assert "refused the request for model 'qwen3-max' over protocol 'openai'" in str(caught.value)


def test_the_cli_shows_the_hint_of_a_refused_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator(refused_pairs=[("qwen3.8-max", "dashscope")]) as emu:
        monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
        out, err = io.StringIO(), io.StringIO()
        code = main(
            ["ask", "--base-url", emu.base_url, "--model", "qwen3.8-max", SEED_QUESTION], stdout=out, stderr=err
        )
    assert code == 1
    assert "try --protocol responses" in err.getvalue()


def test_qwen_ci_models_says_what_is_documented_and_where_the_documents_disagree() -> None:
    out = io.StringIO()
    assert main(["models"], stdout=out) == 0
    text = out.getvalue()
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("qwen")}
    assert "dashscope, openai, responses" in lines["qwen3-max"]
    assert "responses" in lines["qwen3.7-plus*"] and "disputed: dashscope, openai" in lines["qwen3.7-plus*"]
    assert "disputed" not in lines["qwen3.6-max*"]
    assert "qwen3.7-plus over openai and dashscope" in text  # the disagreement, in words
    assert "it never refuses" in text


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("qwen4.2-plus", "multimodal-generation"),
        ("qwen4-max", "multimodal-generation"),
        ("qwen3.9-turbo", "multimodal-generation"),
        ("qwen4.0.1-preview", "multimodal-generation"),  # a version of three parts is read by its first two
        ("qwen3.5.1-x", "multimodal-generation"),
        ("qwen3.4.9-x", "text-generation"),
        ("qwen3-coder-plus", "text-generation"),
        ("qwen2.5-72b-instruct", "text-generation"),
        ("qwen-plus-latest", "text-generation"),
        ("llama", "text-generation"),
    ],
)
def test_an_unknown_name_gets_its_native_path_from_the_version_in_it(name: str, path: str) -> None:
    info = lookup_model(name)
    assert info.native_endpoint == path and not info.known


def test_unknown_and_undocumented_names_are_sent_with_a_guessed_native_path(emu: Emulator) -> None:
    assert lookup_model("qwen4.2-plus").native_endpoint == "multimodal-generation"
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, model="qwen4.2-plus") as ci:
        assert ci.run(SEED_QUESTION).status == "completed"
    assert emu.requests[0].path.endswith("/multimodal-generation/generation")


def test_a_url_error_on_the_native_protocol_says_the_model_lives_on_the_other_path(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stale row sends a Qwen3.5 model to text-generation; the service (and the emulator) answer
    # Qwen3.5+ names there with "url error".
    name = "qwen3.5-next-unlisted"
    stale = _model_table.ModelInfo(name, frozenset({"dashscope"}), "text-generation", "a stale row")
    monkeypatch.setattr(_model_table, "MODELS", (stale, *_model_table.MODELS))
    with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, model=name) as ci:
        with pytest.raises(BadRequestError) as caught:
            ci.run(SEED_QUESTION)
    text = str(caught.value)
    assert "url error" in text and "sent to text-generation (the model table's row)" in text
    assert "protocol='responses'" in text and "--protocol responses" in caught.value.describe(CLI)


NAMES_2026 = [
    "qwen3.8-max-preview",
    "qwen3.8-max",
    "qwen3.8-max-2026-09-02",
    "qwen3.7-max",
    "qwen3.8-flash-2026-08-26",
    "qwen3.7-flash-2026-07-15",
]


def test_qwen_ci_models_shows_the_2026_names_as_the_documents_show_them() -> None:
    out = io.StringIO()
    assert main(["models"], stdout=out) == 0
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if line.startswith("qwen")}
    for name in NAMES_2026:
        assert name in lines, name
        assert lines[name].split()[1] == "responses" and lookup_model(name).known, lines[name]
        assert "multimodal-generation" in lines[name]
    # The newest page's own example calls qwen3.8-max over Chat Completions while its table omits it.
    assert "disputed: openai" in lines["qwen3.8-max"]
    assert "its own example sends qwen3.8-max over openai" in out.getvalue()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_2026_names_are_sent_as_asked_over_every_protocol(protocol: str, emu: Emulator) -> None:
    for model in NAMES_2026:
        with CodeInterpreter(api_key="sk-test", base_url=emu.base_url, model=model, protocol=protocol) as ci:
            assert ci.run(SEED_QUESTION).status == "completed", model
    assert [r.json["model"] for r in emu.requests] == NAMES_2026
