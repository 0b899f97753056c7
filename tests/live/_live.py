"""What the live suite reads from the environment, and how its recordings are saved and replayed.

The environment is read once, at import: the suite's autouse fixture clears ``DASHSCOPE_*`` for
every test so that no other test can reach the real service by accident.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from qwen_ci_tool import CodeInterpreter, CodeInterpreterResult
from qwen_ci_tool.testing import Emulator

#: `make live-test` sets this: a key in the environment alone never sends `make test` to the real service.
LIVE_OPTED_IN = os.environ.get("QWEN_CI_LIVE", "").strip() == "1"
LIVE_KEY = os.environ.get("DASHSCOPE_API_KEY", "").strip()
LIVE_BASE_URL = os.environ.get("DASHSCOPE_HTTP_BASE_URL", "").strip() or None
LIVE_REGION = os.environ.get("QWEN_CI_LIVE_REGION", "").strip() or None
LIVE_MODEL = os.environ.get("QWEN_CI_LIVE_MODEL", "").strip() or "qwen3-max"
LIVE_MULTIMODAL_MODEL = os.environ.get("QWEN_CI_LIVE_MULTIMODAL_MODEL", "").strip() or "qwen3.5-plus"
#: Where each live run leaves its raw streams; the emulator replays them (``Emulator.replay``).
RECORD_DIR = Path(
    os.environ.get("QWEN_CI_LIVE_RECORD_DIR", "").strip() or Path(__file__).parent.parent / "fixtures" / "live"
)

NOT_OPTED_IN_REASON = (
    "live tests call the real service and spend tokens: they run only from `make live-test` "
    "(QWEN_CI_LIVE=1), never from `make test`, key or not"
)
SKIP_REASON = (
    "live tests need DASHSCOPE_API_KEY: run `make live-test` with a key "
    "(DASHSCOPE_HTTP_BASE_URL and QWEN_CI_LIVE_REGION are honoured)"
)


def live_settings(**overrides: Any) -> dict[str, Any]:
    """Client settings for the live service: the base URL if given, else the region."""
    settings: dict[str, Any] = {"api_key": LIVE_KEY, "model": LIVE_MODEL, "idle_timeout": 300, "total_timeout": 900}
    if LIVE_BASE_URL:
        settings["base_url"] = LIVE_BASE_URL
    elif LIVE_REGION:
        settings["region"] = LIVE_REGION
    settings.update(overrides)
    return settings


def digits(text: str) -> str:
    """Only the digits: a model may write a number with separators, spaces or markup."""
    return re.sub(r"[^0-9]", "", text)


def save_recording(
    name: str, stream: bytes, question: str, settings: dict[str, Any], result: CodeInterpreterResult
) -> Path:
    """``name.sse`` (the raw body, no headers, no key) and ``name.json`` (what to replay it with and
    the result it gave)."""
    RECORD_DIR.mkdir(parents=True, exist_ok=True)
    path = RECORD_DIR / f"{name}.sse"
    path.write_bytes(stream)
    data = result.to_dict()
    del data["timings"]
    meta = {
        "protocol": settings.get("protocol", "dashscope"),
        "model": settings["model"],
        "question": question,
        "result": data,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def replay(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result the emulator gives replaying a recording, and the result recorded with it.

    Both without the request id: a recording holds the body only, and over the compatible-mode
    protocols the request id comes from a response header, which the replay answers afresh."""
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    with Emulator() as emu:
        emu.replay(path)
        with CodeInterpreter(
            api_key="sk-replay", base_url=emu.base_url, protocol=meta["protocol"], model=meta["model"]
        ) as ci:
            data = ci.run(meta["question"]).to_dict()
    del data["timings"]
    recorded = dict(meta["result"])
    ids = data.pop("request_id"), recorded.pop("request_id")
    assert all(ids), "both results carry a request id"
    return data, recorded
