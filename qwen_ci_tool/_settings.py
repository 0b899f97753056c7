"""The resolved settings of one client: what :func:`~qwen_ci_tool._config.resolve_settings` returns.

Plain data, apart from the table that says where each setting comes from (:mod:`._config`), so the
wire protocols can take it without importing the resolution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._model_table import ModelInfo
from ._secret import Secret

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    api_key: Secret | None
    base_url: str
    region: str | None
    protocol: str
    model: str
    model_info: ModelInfo
    connect_timeout: float
    idle_timeout: float
    total_timeout: float
    max_retries: int
    workspace: str | None
    #: base_url came from the caller (argument or environment), so it overrides region.
    custom_base_url: bool
    #: Where the key came from: ``"api_key"`` (an argument) or the environment variable that gave it
    #: (``DASHSCOPE_API_KEY_FILE_PATH``: the file it names); ``None`` without a key.
    key_source: str | None
    responses_path: str
    extra_parameters: Mapping[str, Any]

    def __repr__(self) -> str:
        return (
            f"Settings(base_url={self.base_url!r}, protocol={self.protocol!r}, model={self.model!r}, "
            f"api_key={'set' if self.api_key else 'missing'})"
        )
