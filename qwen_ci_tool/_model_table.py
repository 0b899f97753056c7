"""The model table: which models the vendor documents with the code interpreter, over which
protocols, and on which native path.

The table ADVISES; it never refuses. Models change several times a year and the vendor's pages
disagree with each other (its 2026 English page calls ``qwen3.7-plus`` over Chat Completions and
the native protocol, other versions document the newer series for the Responses API only), so
every model and protocol pair is sent as asked and the service decides. The table is used for two
things: picking the native path (text-generation or multimodal-generation), and wording the hint
when the service itself refuses a pair ("documented over responses: try --protocol responses").

Rows are matched exactly first, then by the longest prefix pattern (a row ending in ``*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["MODELS", "ModelInfo", "known_model_names", "lookup_model"]

NativeEndpoint = Literal["text-generation", "multimodal-generation"]

#: The protocols in the order they are shown.
_ORDER = ("dashscope", "openai", "responses")
_ALL = frozenset(_ORDER)
_RESPONSES = frozenset({"responses"})
_NONE: frozenset[str] = frozenset()
_OTHERS = frozenset({"dashscope", "openai"})

# Where the documents disagree, they say so in these words (shown by `qwen-ci models`).
_QWEN_CLOUD = "the Qwen Cloud page shows all three protocols; other versions of the pages: responses only"
_MAX_38 = (
    "the newest code-interpreter page lists the Qwen3.8-Max series for responses only, "
    "but its own example sends qwen3.8-max over openai"
)
_ENGLISH_2026 = (
    "the vendor's English page (2026) calls qwen3.7-plus over openai and dashscope "
    "(MultiModalConversation); other versions of the pages: responses only"
)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the vendor's documents say about a model (or a family, when ``pattern`` ends in ``*``).

    ``protocols``: the protocols every version of the documents shows with the interpreter.
    ``disputed``: protocols some versions show and others do not (``disagreement`` says which).
    Neither is enforced: any pair is sent as asked.
    """

    pattern: str
    protocols: frozenset[str]
    native_endpoint: NativeEndpoint
    note: str
    known: bool = True
    disputed: frozenset[str] = _NONE
    disagreement: str = ""

    @property
    def documented(self) -> frozenset[str]:
        """Every protocol at least one version of the documents shows with the interpreter."""
        return self.protocols | self.disputed


def _newer(pattern: str, note: str, **more: Any) -> ModelInfo:
    """A row of the newer series: documented for the Responses API, served on the multimodal path."""
    return ModelInfo(pattern, _RESPONSES, "multimodal-generation", note, **more)


# fmt: off
MODELS: tuple[ModelInfo, ...] = (
    # Qwen3-Max series, thinking mode only, text-generation path (the seed's model is here).
    ModelInfo("qwen3-max-preview", _ALL, "text-generation", "the seed's model (November 2025)"),
    ModelInfo("qwen3-max", _ALL, "text-generation", "stable Qwen3-Max"),
    ModelInfo("qwen3-max-2026-01-23", _ALL, "text-generation", "Qwen3-Max snapshot"),
    ModelInfo("qwen3-max*", _ALL, "text-generation", "Qwen3-Max series"),
    # Qwen3.5-Plus series: every protocol; the native protocol uses the multimodal path.
    ModelInfo("qwen3.5-plus", _ALL, "multimodal-generation", "Qwen3.5-Plus"),
    ModelInfo("qwen3.5-plus*", _ALL, "multimodal-generation", "Qwen3.5-Plus series"),
    # Newer series, Flash series and open-source models: the documents disagree for some.
    _newer("qwen3.5-flash*", "Qwen3.5-Flash series", disputed=_OTHERS, disagreement=_QWEN_CLOUD),
    _newer("qwen3.5-*", "Qwen3.5 open-source models", disputed=_OTHERS, disagreement=_QWEN_CLOUD),
    _newer("qwen3.6-max*", "Qwen3.6-Max series"),
    _newer("qwen3.6-plus*", "Qwen3.6-Plus series", disputed=_OTHERS, disagreement=_QWEN_CLOUD),
    _newer("qwen3.6-*", "Qwen3.6 models"),
    _newer("qwen3.7-plus*", "Qwen3.7-Plus series", disputed=_OTHERS, disagreement=_ENGLISH_2026),
    _newer("qwen3.7-max", "Qwen3.7-Max (2026 documents)"),
    _newer("qwen3.7-flash-2026-07-15", "Qwen3.7-Flash snapshot"),
    _newer("qwen3.7-*", "Qwen3.7 models"),
    _newer("qwen3.8-max-preview", "Qwen3.8-Max preview"),
    _newer("qwen3.8-max", "stable Qwen3.8-Max", disputed=frozenset({"openai"}), disagreement=_MAX_38),
    _newer("qwen3.8-max-2026-09-02", "Qwen3.8-Max snapshot"),
    _newer("qwen3.8-max*", "Qwen3.8-Max series"),
    _newer("qwen3.8-flash-2026-08-26", "Qwen3.8-Flash snapshot"),
    _newer("qwen3.8-*", "Qwen3.8 models"),
    _newer("qwen-flash*", "Qwen-Flash series"),
    _newer("qwen3-flash*", "Qwen3-Flash series"),
)
# fmt: on

_VERSION = re.compile(r"^qwen(\d+)(?:\.(\d+))?")  # a third part (qwen3.5.1) is read as its first two


def lookup_model(name: str) -> ModelInfo:
    """The row for *name*; an unknown name gets a pass-through row (``known=False``).

    For an unknown name the native endpoint is guessed from the version in the name: Qwen3.5 and
    newer (``qwen3.9-...``, ``qwen4-...``, ``qwen4.0.1-...``) use the multimodal path, everything else
    the text-generation path.
    """
    exact = [row for row in MODELS if row.pattern == name]  # a family's own pattern is its longest match anyway
    families = [row for row in MODELS if row.pattern.endswith("*") and name.startswith(row.pattern[:-1])]
    if exact or families:
        return exact[0] if exact else max(families, key=lambda row: len(row.pattern))  # the first of the longest
    match = _VERSION.match(name)
    newer = match is not None and (int(match.group(1)), int(match.group(2) or 0)) >= (3, 5)
    return ModelInfo(
        name,
        _ALL,
        "multimodal-generation" if newer else "text-generation",
        "not in the model table: sent as asked",
        known=False,
    )


def ordered(protocols: frozenset[str]) -> list[str]:
    """Protocol names in the order the tool shows them."""
    return [p for p in _ORDER if p in protocols]


def known_model_names(protocol: str | None = None) -> list[str]:
    """Exact model names in the table (optionally only those documented over *protocol*)."""
    return [
        row.pattern
        for row in MODELS
        if not row.pattern.endswith("*") and (protocol is None or protocol in row.documented)
    ]
