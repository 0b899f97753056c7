"""Every text a person or a model reads, as the catalogue holds it (tests/texts.py says how to change one)."""

from __future__ import annotations

import difflib
import inspect
import sys

import pytest

from mcp_server import _texts as T

from .texts import HELP_SECTION, HELP_VERSION, KEY, PATH, render


def _sections(text: str) -> dict[str, str]:
    head, *rest = text.split("\n== ")
    return {"head": head, **{("== " + part).split("\n", 1)[0]: part for part in rest}}


def _same_python(text: str) -> bool:
    line = next(line for line in text.splitlines() if line.startswith(HELP_VERSION))
    return line == f"{HELP_VERSION}{sys.version_info[0]}.{sys.version_info[1]}"


def test_every_text_reads_as_the_catalogue_holds_it() -> None:
    expected, actual = PATH.read_text(encoding="utf-8"), render()
    want, got = _sections(expected), _sections(actual)
    if not _same_python(expected):
        # argparse wraps help differently on other Pythons: the help is compared on the catalogue's own.
        want.pop(HELP_SECTION), got.pop(HELP_SECTION)
        want.pop("head"), got.pop("head")
    if want != got:
        diff = difflib.unified_diff(
            "\n== ".join(want.values()).splitlines(),
            "\n== ".join(got.values()).splitlines(),
            "tests/data/texts.txt",
            "now",
            lineterm="",
            n=1,
        )
        shown = "\n".join(list(diff)[:120])
        pytest.fail(
            "A text a person or a model reads changed. If the change is meant, run `python -m tests.texts --write` "
            f"and review the diff of tests/data/texts.txt; otherwise the code broke a text:\n{shown}"
        )


def test_the_catalogue_holds_every_text_of_the_mcp_server() -> None:
    # A text added to mcp_server/_texts.py without a place in the catalogue is a text no test reads.
    source = inspect.getsource(sys.modules["tests.texts"])
    names = [
        name
        for name, value in vars(T).items()
        if (name.isupper() and isinstance(value, str) and name.endswith(("_TEXT", "_MESSAGE")))
        or (inspect.isfunction(value) and value.__module__ == T.__name__ and name.endswith("_text"))
    ]
    assert len(names) >= 12
    assert [name for name in names if name not in source] == []


def test_the_catalogue_never_shows_the_key_it_was_rendered_with() -> None:
    text = PATH.read_text(encoding="utf-8")
    assert KEY not in text and "sk-" not in text.replace("sk-...", "")
    assert text.count("\n== ") == 12
