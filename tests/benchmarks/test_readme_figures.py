"""The README's performance figures are exactly what the committed result files render to."""

from __future__ import annotations

from benchmarks import readme


def test_the_readme_performance_section_is_rendered_from_the_result_files() -> None:
    text = readme.README.read_text(encoding="utf-8")
    assert text.count(readme.BEGIN) == 1 and text.count(readme.END) == 1, (
        "the README keeps the performance markers once each"
    )
    section = readme.BEGIN + text.split(readme.BEGIN, 1)[1].split(readme.END, 1)[0] + readme.END
    assert section == readme.render(), "README performance figures are stale: run `make docs`"


def test_the_section_names_the_commit_and_load_the_figures_come_from() -> None:
    doc = {
        "created": "2026-11-30T05:00:00+00:00",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "dirty": False,
        "load_before": {"1min": 0.5, "5min": 0.7, "15min": 0.9},
    }
    assert readme._provenance(doc) == "run 2026-11-30 on commit `0123456789ab`; load average 0.5 at the start"
    assert "uncommitted" in readme._provenance({**doc, "dirty": True})
