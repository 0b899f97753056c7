"""One size cap for everything a result sends: the text and ``structuredContent`` together.

``structuredContent`` is the core's result dict with two changes: a step does not repeat its text
(``reasoning`` and ``answer`` steps give their length in characters, the next that many characters
of the field, after the blank line the core puts between reasoning segments; ``code`` steps name
their code run), and ``truncated`` lists what was cut to fit.
Long texts are cut in this order until the record fits its share: the reasoning, code outputs, the
code, the answer. :func:`expand_record` rebuilds the core's ``to_dict()`` form from an uncut record.
"""

from __future__ import annotations

import json
from typing import Any

from qwen_ci_tool import CodeInterpreterResult
from qwen_ci_tool._accumulator import segment_separator

__all__ = ["CUT_MARK", "MAX_RESULT_BYTES", "compact_record", "copy_record", "expand_record", "fit_record", "size_of"]

#: The most bytes one result may take as JSON: well under the 1 MiB that SSE clients accept per
#: event (the Python client's limit), leaving room for the JSON-RPC envelope and SSE framing.
MAX_RESULT_BYTES = 1024 * 1024 - 32 * 1024
#: Appended where a text was cut.
CUT_MARK = " [...cut]"


def size_of(value: Any) -> int:
    """Characters of *value* as compact JSON (what the budget counts)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


_encode_str = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) writes for a str


def _str_size(text: str) -> int:
    """Characters of the string *text* as JSON (quotes and escapes included), as ``size_of`` counts them."""
    return len(_encode_str(text))


def compact_record(result: CodeInterpreterResult) -> dict[str, Any]:
    """The result dict without step texts repeated, and an empty ``truncated`` list."""
    record = result.to_dict()
    record["steps"] = [
        {"kind": step["kind"], "chars": None, "code_run": step["code_run"]}
        if step["kind"] == "code"
        else {"kind": step["kind"], "chars": len(step["text"]), "code_run": None}
        for step in record["steps"]
    ]
    record["truncated"] = []
    return record


def expand_record(record: dict[str, Any]) -> dict[str, Any]:
    """The core's ``to_dict()`` form of a compact record (exact when nothing was truncated)."""
    full = {k: v for k, v in record.items() if k != "truncated"}
    offsets = {"reasoning": 0, "answer": 0}
    codes = {run["index"]: run["code"] for run in record["code_runs"]}
    steps = []
    for step in record["steps"]:
        if step["kind"] == "code":
            steps.append({"kind": "code", "text": codes[step["code_run"]], "code_run": step["code_run"]})
            continue
        start = offsets[step["kind"]]
        if step["kind"] == "reasoning" and step["chars"] and start:
            start += len(segment_separator(record["reasoning"][:start]))  # the core keeps segments apart
        offsets[step["kind"]] = start + step["chars"]
        steps.append(
            {"kind": step["kind"], "text": record[step["kind"]][start : start + step["chars"]], "code_run": None}
        )
    full["steps"] = steps
    return full


def _texts(record: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """The cuttable texts, in the order they are cut: (name, holder, key)."""
    runs = record["code_runs"]
    return [
        ("reasoning", record, "reasoning"),
        *[(f"code_runs[{i}].output", run, "output") for i, run in enumerate(runs)],  # none: fit_record skips it
        *[(f"code_runs[{i}].code", run, "code") for i, run in enumerate(runs)],
        ("answer", record, "answer"),
    ]


def fit_record(record: dict[str, Any], budget: int, size: int | None = None) -> int:
    """Cut *record* in place to at most *budget* characters of JSON where its texts allow, naming
    what was cut in ``truncated`` (with how much of it was kept); returns its size after.

    *size* is ``size_of(record)`` when the caller has it: each cut adjusts it by what changed, so
    the record is dumped once at most."""
    size = size_of(record) if size is None else size
    excess = size - budget
    if excess <= 0:
        return size
    for name, holder, key in _texts(record):
        text = holder[key]
        if not text:
            continue
        keep = max(0, len(text) - excess - len(CUT_MARK) - 64)  # 64: the `truncated` entry itself
        cut = text[:keep] + CUT_MARK
        entry = f"{name} (kept {keep:,} of {len(text):,} characters)"
        # The new text for the old, and the entry (with a comma before all but the first).
        size += _str_size(cut) - _str_size(text) + _str_size(entry) + (1 if record["truncated"] else 0)
        holder[key] = cut
        record["truncated"].append(entry)
        excess = size - budget
        if excess <= 0:
            break
    return size


def copy_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a compact record that :func:`fit_record` may cut without touching *record*."""
    return {**record, "code_runs": [dict(run) for run in record["code_runs"]], "truncated": list(record["truncated"])}
