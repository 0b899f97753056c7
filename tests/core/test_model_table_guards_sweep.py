"""Which models the table documents over which protocols and on which native path, name by name, as
the README's "Models and regions" section states it: found by the mutation sweep (issue 26), whose
tool cannot mutate the table itself (built at import time), so each row was broken by hand."""

from __future__ import annotations

import pytest

from qwen_ci_tool import MODELS, lookup_model
from qwen_ci_tool._model_table import known_model_names

ALL = "dashscope openai responses"
OTHERS = "dashscope openai"
QWEN_CLOUD = "the Qwen Cloud page shows all three protocols; other versions of the pages: responses only"
ENGLISH_2026 = "calls qwen3.7-plus over openai and dashscope"
MAX_38 = "its own example sends qwen3.8-max over openai"
TEXT, MULTI = "text-generation", "multimodal-generation"

# name -> (the row it is read from, protocols every document shows, disputed ones, what the documents
# say where they disagree, native path)
EXPECTED = {
    "qwen3-max-preview": ("qwen3-max-preview", ALL, "", "", TEXT),
    "qwen3-max": ("qwen3-max", ALL, "", "", TEXT),
    "qwen3-max-2026-01-23": ("qwen3-max-2026-01-23", ALL, "", "", TEXT),
    "qwen3-max-2025-09-23": ("qwen3-max*", ALL, "", "", TEXT),
    "qwen3.5-plus": ("qwen3.5-plus", ALL, "", "", MULTI),
    "qwen3.5-plus-2026-02-15": ("qwen3.5-plus*", ALL, "", "", MULTI),
    "qwen3.5-flash": ("qwen3.5-flash*", "responses", OTHERS, QWEN_CLOUD, MULTI),
    "qwen3.5-397b-a17b": ("qwen3.5-*", "responses", OTHERS, QWEN_CLOUD, MULTI),
    "qwen3.6-max-preview": ("qwen3.6-max*", "responses", "", "", MULTI),
    "qwen3.6-plus": ("qwen3.6-plus*", "responses", OTHERS, QWEN_CLOUD, MULTI),
    "qwen3.6-flash": ("qwen3.6-*", "responses", "", "", MULTI),
    "qwen3.7-plus": ("qwen3.7-plus*", "responses", OTHERS, ENGLISH_2026, MULTI),
    "qwen3.7-max": ("qwen3.7-max", "responses", "", "", MULTI),
    "qwen3.7-flash-2026-07-15": ("qwen3.7-flash-2026-07-15", "responses", "", "", MULTI),
    "qwen3.7-flash": ("qwen3.7-*", "responses", "", "", MULTI),
    "qwen3.8-max-preview": ("qwen3.8-max-preview", "responses", "", "", MULTI),
    "qwen3.8-max": ("qwen3.8-max", "responses", "openai", MAX_38, MULTI),
    "qwen3.8-max-2026-09-02": ("qwen3.8-max-2026-09-02", "responses", "", "", MULTI),
    "qwen3.8-max-2027-01-01": ("qwen3.8-max*", "responses", "", "", MULTI),
    "qwen3.8-flash-2026-08-26": ("qwen3.8-flash-2026-08-26", "responses", "", "", MULTI),
    "qwen3.8-plus": ("qwen3.8-*", "responses", "", "", MULTI),
    "qwen-flash": ("qwen-flash*", "responses", "", "", MULTI),
    "qwen3-flash-2025": ("qwen3-flash*", "responses", "", "", MULTI),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_each_documented_model_has_its_protocols_and_native_path(name: str) -> None:
    pattern, protocols, disputed, disagreement, endpoint = EXPECTED[name]
    info = lookup_model(name)
    assert (info.pattern, info.known, info.native_endpoint) == (pattern, True, endpoint)
    assert (info.protocols, info.disputed) == (frozenset(protocols.split()), frozenset(disputed.split()))
    assert info.documented == frozenset(protocols.split()) | frozenset(disputed.split())
    assert disagreement in info.disagreement and bool(info.disagreement) == bool(disagreement)
    assert info.note and "not in the model table" not in info.note


def test_every_row_of_the_table_is_one_a_name_above_reads() -> None:
    assert sorted(row.pattern for row in MODELS) == sorted(row[0] for row in EXPECTED.values())


def test_the_exact_names_are_listed_in_table_order_and_by_protocol() -> None:
    exact = [name for name, row in EXPECTED.items() if row[0] == name]
    assert known_model_names() == exact
    assert known_model_names("dashscope") == ["qwen3-max-preview", "qwen3-max", "qwen3-max-2026-01-23", "qwen3.5-plus"]
    assert known_model_names("openai") == [*known_model_names("dashscope"), "qwen3.8-max"]
    assert known_model_names("responses") == exact
