"""The model table: which models offer the code interpreter, over which protocols, on which path.

Models change several times a year, so the rules live here as data, in one place. A name that
matches no row is passed through unchanged: the service decides, and its ``Model.NotExist`` is
turned into an error that lists the known names.

Rows are matched exactly first, then by the longest prefix pattern (a row ending in ``*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["MODELS", "ModelInfo", "known_model_names", "lookup_model"]

NativeEndpoint = Literal["text-generation", "multimodal-generation"]

_ALL = frozenset({"dashscope", "openai", "responses"})
_RESPONSES_ONLY = frozenset({"responses"})


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What we know about a model (or a family, when ``pattern`` ends in ``*``)."""

    pattern: str
    protocols: frozenset[str]
    native_endpoint: NativeEndpoint
    thinking_required: bool
    note: str = ""
    known: bool = True

    def matches(self, name: str) -> bool:
        if self.pattern.endswith("*"):
            return name.startswith(self.pattern[:-1])
        return name == self.pattern


# fmt: off
MODELS: tuple[ModelInfo, ...] = (
    # Qwen3-Max series, thinking mode only, text-generation path (the seed's model is here).
    ModelInfo("qwen3-max-preview", _ALL, "text-generation", True, "the seed's model (November 2025)"),
    ModelInfo("qwen3-max", _ALL, "text-generation", True, "stable Qwen3-Max"),
    ModelInfo("qwen3-max-2026-01-23", _ALL, "text-generation", True, "Qwen3-Max snapshot"),
    ModelInfo("qwen3-max*", _ALL, "text-generation", True, "Qwen3-Max series"),
    # Qwen3.5-Plus series: every protocol; the native protocol uses the multimodal path.
    ModelInfo("qwen3.5-plus", _ALL, "multimodal-generation", False, "Qwen3.5-Plus"),
    ModelInfo("qwen3.5-plus*", _ALL, "multimodal-generation", False, "Qwen3.5-Plus series"),
    # Newer series, Flash series and open-source models: documented as Responses-only.
    ModelInfo("qwen3.5-flash*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3.5-Flash series"),
    ModelInfo("qwen3.5-*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3.5 open-source models"),
    ModelInfo("qwen3.6-max*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3.6-Max series"),
    ModelInfo("qwen3.6-plus*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3.6-Plus series"),
    ModelInfo("qwen3.6-*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3.6 models"),
    ModelInfo("qwen3.7-*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3.7 models"),
    ModelInfo("qwen3.8-*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3.8 models"),
    ModelInfo("qwen-flash*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen-Flash series"),
    ModelInfo("qwen3-flash*", _RESPONSES_ONLY, "multimodal-generation", False, "Qwen3-Flash series"),
)
# fmt: on

_VERSION = re.compile(r"^qwen(\d+)\.(\d+)")


def lookup_model(name: str) -> ModelInfo:
    """The row for *name*; an unknown name gets a permissive pass-through row (``known=False``).

    For an unknown name the native endpoint is guessed from the version in the name: Qwen3.5 and
    newer use the multimodal path, everything else the text-generation path.
    """
    for row in MODELS:
        if not row.pattern.endswith("*") and row.pattern == name:
            return row
    best: ModelInfo | None = None
    for row in MODELS:
        if row.pattern.endswith("*") and row.matches(name):
            if best is None or len(row.pattern) > len(best.pattern):
                best = row
    if best is not None:
        return best
    match = _VERSION.match(name)
    newer = match is not None and (int(match.group(1)), int(match.group(2))) >= (3, 5)
    return ModelInfo(
        name,
        _ALL,
        "multimodal-generation" if newer else "text-generation",
        False,
        "not in the model table: passed through to the service",
        known=False,
    )


def known_model_names(protocol: str | None = None) -> list[str]:
    """Exact model names in the table (optionally only those usable over *protocol*)."""
    return [
        row.pattern
        for row in MODELS
        if not row.pattern.endswith("*") and (protocol is None or protocol in row.protocols)
    ]
