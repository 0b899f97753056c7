"""``make mutate``'s configuration (tests/mutate.py): mutmut breaks only the files asked for, selects the tests
asked for, and every other package still reaches the tests unbroken."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.mutate import (
    NOT_MUTATED,
    NOT_UNDER_MUTMUT,
    PACKAGES,
    REPO,
    mutmut_config,
    not_mutated,
    work_dir,
)

EVERY = [
    "qwen_ci_tool/_sse.py",
    "qwen_ci_tool/_engine.py",
    "qwen_ci_tool/cli/ask.py",
    "mcp_server/_stdio.py",
]
PYPROJECT = '[project]\nname = "qwen-ci-tool"\n'


def _table(text: str) -> dict:
    return tomllib.loads(text)["tool"]["mutmut"]


def test_only_the_named_files_are_mutated_and_the_other_packages_are_copied_unbroken() -> None:
    text = mutmut_config(PYPROJECT, ["qwen_ci_tool/_sse.py"], ["tests/core/", "tests/cli/"], 2, EVERY)
    table = _table(text)
    assert table["source_paths"] == ["qwen_ci_tool/"]
    assert table["do_not_mutate"] == [
        "qwen_ci_tool/_engine.py",
        "qwen_ci_tool/cli/ask.py",
    ]
    selection = table["pytest_add_cli_args_test_selection"]
    assert selection[:2] == ["tests/core/", "tests/cli/"]
    assert selection[2:] == [f"--deselect={test}" for test, _ in NOT_UNDER_MUTMUT]
    assert table["max_children"] == 2
    assert {"mcp_server", "integrations", "tests"} <= set(table["also_copy"])
    assert "qwen_ci_tool" not in table["also_copy"]
    assert tomllib.loads(text)["project"]["name"] == "qwen-ci-tool"


def test_files_of_two_packages_mutate_both_and_copy_neither() -> None:
    table = _table(
        mutmut_config(
            PYPROJECT,
            ["qwen_ci_tool/_sse.py", "mcp_server/_stdio.py"],
            ["tests/"],
            1,
            EVERY,
        )
    )
    assert table["source_paths"] == ["mcp_server/", "qwen_ci_tool/"]
    assert not {"mcp_server", "qwen_ci_tool"} & set(table["also_copy"])


def test_a_second_run_replaces_the_table_it_wrote_before() -> None:
    first = mutmut_config(PYPROJECT, ["qwen_ci_tool/_sse.py"], ["tests/core/"], 1, EVERY)
    second = mutmut_config(first, ["qwen_ci_tool/_engine.py"], ["tests/core/"], 1, EVERY)
    assert second.count("[tool.mutmut]") == 1
    assert _table(second)["do_not_mutate"][0] == "qwen_ci_tool/_sse.py"


@pytest.mark.parametrize(
    ("files", "fix"),
    [([], "give paths like"), (["tests/core/test_sse.py"], ", ".join(PACKAGES))],
    ids=["none", "test"],
)
def test_files_that_are_not_library_files_are_refused_naming_what_to_give(files: list[str], fix: str) -> None:
    with pytest.raises(SystemExit, match=fix):
        mutmut_config(PYPROJECT, files, ["tests/core/"], 1, EVERY)


@pytest.mark.parametrize(("path", "line"), NOT_MUTATED)
def test_the_functions_left_unmutated_still_exist_and_get_mutmuts_marker(path: str, line: str) -> None:
    marked = not_mutated((REPO / path).read_text(encoding="utf-8"), line)
    assert f"{line}  # pragma: no mutate block\n" in marked
    with pytest.raises(SystemExit, match="update NOT_MUTATED"):
        not_mutated(marked.replace(line, "    async def renamed(self) -> None:"), line)


@pytest.mark.parametrize(("test", "why"), NOT_UNDER_MUTMUT)
def test_the_tests_left_out_of_mutmuts_runs_still_exist(test: str, why: str) -> None:
    path, name = test.split("::")
    assert f"def {name}(" in (REPO / path).read_text(encoding="utf-8"), f"update NOT_UNDER_MUTMUT ({why})"


def test_each_set_of_files_has_its_own_work_tree_whatever_their_order() -> None:
    # A cache made for other files takes these as already generated and runs none of their mutants.
    one = work_dir(["qwen_ci_tool/_sse.py", "qwen_ci_tool/_engine.py"])
    assert one == work_dir(["qwen_ci_tool/_engine.py", "qwen_ci_tool/_sse.py"])
    assert one != work_dir(["qwen_ci_tool/_sse.py"]) and one.parent == REPO / ".mutate"


def _breaks(source: str) -> list[str]:
    """Each break tests/mutate_kinds.py makes in *source* (a module), as the module's new text."""
    import libcst as cst

    from tests.mutate_kinds import MORE

    class Collect(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[cst.CSTNode, cst.CSTNode]] = []

        def on_visit(self, node: cst.CSTNode) -> bool:
            self.found += [(node, new) for kind, operator in MORE if isinstance(node, kind) for new in operator(node)]
            return True

    module = cst.parse_module(source)
    collect = Collect()
    module.visit(collect)
    return [module.deep_replace(old, new).code for old, new in collect.found]  # type: ignore[arg-type]


def test_more_kinds_drop_each_clause_of_an_and_or_once_keeping_precedence() -> None:
    assert _breaks("x = (a and b or c).encode()\n") == [
        "x = (a and b).encode()\n",
        "x = (c).encode()\n",
        "x = ((a) or c).encode()\n",
        "x = ((b) or c).encode()\n",
    ]


def test_more_kinds_force_a_plain_condition_each_way_and_leave_comparisons_and_constants_alone() -> None:
    assert _breaks("while True:\n    pass\n") == []
    source = "if not isinstance(o, dict):\n    pass\nwhile x == 1:\n    pass\ny = [v for v in w if v]\n"
    assert _breaks(source) == [
        "if (not isinstance(o, dict)) and False:\n    pass\nwhile x == 1:\n    pass\ny = [v for v in w if v]\n",
        "if (not isinstance(o, dict)) or True:\n    pass\nwhile x == 1:\n    pass\ny = [v for v in w if v]\n",
        "if not isinstance(o, dict):\n    pass\nwhile x == 1:\n    pass\ny = [v for v in w if (v) and False]\n",
        "if not isinstance(o, dict):\n    pass\nwhile x == 1:\n    pass\ny = [v for v in w if (v) or True]\n",
    ]


def test_more_kinds_drop_each_type_of_an_isinstance_or_except_tuple() -> None:
    assert _breaks("isinstance(v, (str, bytes, int))\n") == [
        "isinstance(v, (bytes, int))\n",
        "isinstance(v, (str, int))\n",
        "isinstance(v, (str, bytes))\n",
    ]
    assert _breaks("try:\n    pass\nexcept (KeyError, ValueError):\n    pass\n") == [
        "try:\n    pass\nexcept ValueError:\n    pass\n",
        "try:\n    pass\nexcept KeyError:\n    pass\n",
    ]


def test_more_kinds_read_a_test_against_none_as_a_truth_test_and_leave_other_comparisons_alone() -> None:
    assert _breaks("if r.id is not None:\n    pass\n") == ["if (r.id):\n    pass\n"]
    assert _breaks("y = a is None\n") == ["y = not (a)\n"]
    assert _breaks("y = a is b\n") == [] and _breaks("y = a is None is b\n") == []


def test_more_kinds_search_from_the_other_end_and_read_round_as_int() -> None:
    assert _breaks("u, _, h = n.rpartition('@')\n") == ["u, _, h = n.partition('@')\n"]
    assert _breaks("i = s.find(x)\n") == ["i = s.rfind(x)\n"]
    assert _breaks("t = round(s)\n") == ["t = int(s)\n"]
    assert _breaks("t = round(s, 1)\n") == [] and _breaks("t = s.split('@')\n") == []


def test_more_kinds_drop_a_clamp_a_normalising_call_and_read_a_float_type_as_int() -> None:
    assert _breaks("n = min(a, b + 1)\n") == ["n = (a)\n", "n = (b + 1)\n"]
    assert _breaks("n = max(xs)\n") == [] and _breaks("n = min(a, b, key=f)\n") == []
    assert _breaks("k = h.strip().lower()\n") == ["k = (h.strip())\n", "k = (h).lower()\n"]
    assert _breaks("k = h.strip('/')\n") == []
    assert _breaks("p.add_argument('--ttl', type=float)\n") == ["p.add_argument('--ttl', type=int)\n"]
    assert _breaks("p.add_argument('--n', type=int)\n") == []


def test_each_kind_of_break_has_a_work_tree_of_its_own() -> None:
    files = ["qwen_ci_tool/_sse.py"]
    assert work_dir(files, "more") != work_dir(files) == work_dir(files, "mutmut")
    assert work_dir(files, "names") not in (work_dir(files), work_dir(files, "more"))


def _names(source: str) -> list[tuple[str, bool]]:
    """Each break tests/mutate_names.py makes in *source*: the lines it changed, and whether mutmut runs it."""
    import libcst as cst

    from tests.mutate_names import find_breaks, module_constants

    wrapper = cst.MetadataWrapper(cst.parse_module(source))
    found = []
    for b in find_breaks(wrapper, module_constants(source)):
        code = wrapper.module.deep_replace(b.node, b.new).code  # type: ignore[union-attr]
        changed = [new for old, new in zip(source.splitlines(), code.splitlines(), strict=True) if old != new]
        found.append(("\n".join(changed), b.function is not None))
    return found


def test_names_kinds_change_each_module_and_class_constant_and_run_it_outside_mutmut() -> None:
    source = (
        'LIMIT = 1000\nRATE = 0.5\nNAME = "abc"\n__version__ = "1"\nclass C:\n    x: int = 0\ndef f():\n    y = 5\n'
        'T: TypeAlias = "int | str"\n'
    )
    assert _names(source) == [
        ("LIMIT = 1001", False),
        ("LIMIT = 2000", False),
        ("RATE = 1.0", False),
        ("RATE = 0.25", False),
        ('NAME = "XXabcXX"', False),
        ("    x: int = 1", False),
    ]


def test_names_kinds_swap_a_constant_read_for_the_next_one_with_another_value_of_its_type() -> None:
    source = 'A = 1\nB = 1\nC = 2\nS = "s"\nfrom m import A as D\ndef f(o):\n    o.A = A\n    return S + str(A)\n'
    assert _names(source)[-2:] == [
        ("    o.A = C", True),
        ("    return S + str(C)", True),
    ]


def test_names_kinds_follow_constants_imported_from_the_packages(
    tmp_path: Path,
) -> None:
    from tests.mutate_names import module_constants

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("X = 1\nlow = 3\n")
    (tmp_path / "pkg" / "b.py").write_text("try:\n    from .a import X, low\nexcept ImportError:\n    pass\nY = 2\n")
    b = tmp_path / "pkg" / "b.py"
    assert module_constants(b.read_text(), b, tmp_path) == {"Y": 2, "X": 1}


def test_names_kinds_pass_the_default_of_a_get_instead_of_or_ing_it() -> None:
    source = 'def f(d):\n    return d.get("k") or {}\ndef g(d):\n    return d.get("k", 1) or 2\n'
    assert _names(source) == [('    return d.get("k", {})', True)]


def test_names_kinds_turn_each_exit_of_a_loop_into_its_other_exit() -> None:
    source = (
        "def f(xs):\n    for x in xs:\n        if x:\n            return x\n        if x is None:\n            continue\n"
        "        for y in x:\n            break\n    while xs:\n        break\n"
    )
    assert _names(source) == [
        ("            continue", True),
        ("            break", True),
        ("            continue", True),
        ("        continue", True),
    ]


def test_names_kinds_drop_a_format_spec_or_round_it_to_no_decimals() -> None:
    source = 'def f(a, b, c, d):\n    return f"{a:g} {b:.1f} {c:>5} {d:.0f}"\n'
    assert [line for line, _ in _names(source)] == [
        '    return f"{a} {b:.1f} {c:>5} {d:.0f}"',
        '    return f"{a:.0f} {b:.1f} {c:>5} {d:.0f}"',
        '    return f"{a:g} {b} {c:>5} {d:.0f}"',
        '    return f"{a:g} {b:.0f} {c:>5} {d:.0f}"',
        '    return f"{a:g} {b:.1f} {c} {d:.0f}"',
        '    return f"{a:g} {b:.1f} {c:>5} {d}"',
    ]


def test_names_kinds_drop_none_from_types_evaluated_at_run_time_only() -> None:
    source = (
        'M = create_model("M", x=(int | None, None))\nclass P(BaseModel):\n    a: int | None = None\n'
        "    b: Optional[str]\ndef g(x: int | None) -> str | None:\n    return x\nclass Plain:\n    c: int | None = None\n"
    )
    assert _names(source) == [
        ('M = create_model("M", x=(int, None))', False),
        ("    a: int = None", False),
        ("    b: str", False),
    ]


def test_names_kinds_run_in_mutmut_only_inside_the_functions_it_switches_and_name_the_others_by_scope(
    tmp_path: Path,
) -> None:
    from tests.mutate_names import outside_breaks

    source = (
        "LIMIT = 3\nclass C:\n    @property\n    def p(self):\n        return self.d.get(1) or 2\n"
        "    @staticmethod\n    def s(d):\n        return d.get(1) or 2\n"
        "    def skipped(self, d):  # pragma: no mutate block\n        return d.get(1) or 2\n"
    )
    assert [(line, inside) for line, inside in _names(source)][-1] == (
        "        return d.get(1, 2)",
        True,
    )
    outside = outside_breaks("pkg/mod.py", source, tmp_path)
    assert [(b.name, b.line) for b in outside] == [
        ("pkg.mod.s_LIMIT__1", 1),
        ("pkg.mod.s_LIMIT__2", 1),
        ("pkg.mod.s_C__1", 5),
    ]
    assert "-        return self.d.get(1) or 2\n+        return self.d.get(1, 2)\n" in outside[2].diff


def test_names_kinds_read_a_class_literal_instead_of_the_instances_own_value() -> None:
    source = (
        'class T:\n    name: str = "calc"\n    size = 3\n    __slots__ = ()\n    def f(self):\n'
        "        self.size = 4\n        return self.name, self.other, self.size\n"
    )
    assert [line for line, inside in _names(source) if inside] == [
        '        return "calc", self.other, self.size',
        "        return self.name, self.other, 3",
    ]


def _fake_mutmut(monkeypatch: pytest.MonkeyPatch, cwd: Path, main: Callable[..., object]) -> list[list[str]]:
    """mutate_names_run with mutmut replaced by *main* (its CLI) and cwd in *cwd*: the names each run of the
    outside breaks was given."""
    import sys
    import types

    import tests.mutate_names_run as runner

    fake_main = types.ModuleType("mutmut.__main__")
    fake_main.cli = types.SimpleNamespace(main=main)  # type: ignore[attr-defined]
    fake_mutation = types.ModuleType("mutmut.mutation")
    fake_mutation.file_mutation = types.SimpleNamespace()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mutmut", types.ModuleType("mutmut"))
    monkeypatch.setitem(sys.modules, "mutmut.__main__", fake_main)
    monkeypatch.setitem(sys.modules, "mutmut.mutation", fake_mutation)
    monkeypatch.setattr(runner, "_kinds", lambda: None)
    outside: list[list[str]] = []
    monkeypatch.setattr(runner, "run", lambda names: outside.append(names) or 0)
    monkeypatch.chdir(cwd)
    return outside


def test_names_breaks_outside_mutmut_still_run_when_mutmut_made_no_mutant_and_not_when_it_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import tests.mutate_names_run as runner

    def stops(*args: object, **kwargs: object) -> None:
        raise SystemExit(1)  # mutmut: "Stopping early, because we could not find any test case for any mutant"

    outside = _fake_mutmut(monkeypatch, tmp_path, stops)
    meta = tmp_path / "mutants" / "pkg" / "mod.py.meta"
    meta.parent.mkdir(parents=True)

    meta.write_text(json.dumps({"exit_code_by_key": {}}), encoding="utf-8")
    assert runner.main(["run"]) == 0 and outside == [[]]  # no mutant made: the outside breaks run
    meta.write_text(json.dumps({"exit_code_by_key": {"pkg.mod.x_f__mutmut_1": None}}), encoding="utf-8")
    assert runner.main(["run"]) == 1 and outside == [[]]  # mutants made and mutmut failed: stop there


def test_names_mutants_named_inside_mutmut_only_run_no_break_outside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.mutate_names_run as runner

    asked: list[list[str]] = []
    outside = _fake_mutmut(monkeypatch, tmp_path, lambda args, **kwargs: asked.append(args))
    assert runner.main(["run", "pkg.mod.x_f__mutmut_1"]) == 0
    assert asked == [["run", "pkg.mod.x_f__mutmut_1"]] and outside == []  # mutmut's mutant alone
    assert runner.main(["run", "pkg.mod.x_f__mutmut_1", "pkg.mod.s_A__1"]) == 0 and outside == [["pkg.mod.s_A__1"]]
    assert runner.main(["run"]) == 0 and outside == [["pkg.mod.s_A__1"], []]  # no names: everything


def test_names_traced_run_records_which_tests_ran_a_file_and_how_long_each_passing_test_took(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.mutate_names_run import TRACER

    (tmp_path / "mutate_names_trace.py").write_text(TRACER, encoding="utf-8")
    (tmp_path / "lib.py").write_text("def f() -> int:\n    return 1\n", encoding="utf-8")
    (tmp_path / "test_x.py").write_text(
        "import lib\n\ndef test_pass():\n    assert lib.f() == 1\n\ndef test_fail():\n    assert lib.f() == 2\n\n"
        "def test_other():\n    pass\n",
        encoding="utf-8",
    )
    out = tmp_path / "traced.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "MUTATE_NAMES_WATCH": str(tmp_path / "lib.py"),
        "MUTATE_NAMES_TRACED": str(out),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "mutate_names_trace", "-p", "no:randomly"]
    subprocess.run([*command, "-p", "no:cacheprovider", "test_x.py"], cwd=tmp_path, env=env, timeout=120, check=False)
    traced = json.loads(out.read_text(encoding="utf-8"))
    assert traced["ran"] == {str(tmp_path / "lib.py"): ["test_x.py::test_fail", "test_x.py::test_pass"]}
    assert sorted(traced["took"]) == ["test_x.py::test_other", "test_x.py::test_pass"]  # the failed test is left out


def test_names_breaks_run_once_each_against_the_traced_run_with_no_clean_run_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import types

    import tests.mutate_names_run as runner
    from tests.mutate_names import Outside

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mutants").mkdir()
    for tree in (tmp_path, tmp_path / "outside"):
        (tree / "pkg").mkdir(parents=True)
        (tree / "pkg" / "a.py").write_text("A = 1\n", encoding="utf-8")
        (tree / "pkg" / "b.py").write_text("B = 1\n", encoding="utf-8")
    breaks = [
        Outside("pkg.a.s_module__1", "pkg/a.py", 1, "A = 2\n", "-A = 1\n+A = 2"),
        Outside("pkg.a.s_module__2", "pkg/a.py", 1, "A = 3\n", "-A = 1\n+A = 3"),
        Outside("pkg.b.s_module__1", "pkg/b.py", 1, "B = 2\n", "-B = 1\n+B = 2"),
    ]
    kinds = types.SimpleNamespace(outside_breaks=lambda path, source, root: [b for b in breaks if b.path == path])
    monkeypatch.setattr(runner, "_kinds", lambda: kinds)
    monkeypatch.setattr(runner, "_table", lambda: {})
    monkeypatch.setattr(runner, "_files", lambda table: ["pkg/a.py", "pkg/b.py"])
    monkeypatch.setattr(runner, "_copy", lambda table: None)
    ran = {"pkg/a.py": ["t::a1", "t::a2"], "pkg/b.py": ["t::b"]}
    monkeypatch.setattr(runner, "_traced", lambda table: (ran, {"t::a1": 2.0, "t::a2": 3.0}))  # t::b failed there
    runs: list[tuple[list[str], float]] = []
    monkeypatch.setattr(runner, "_pytest", lambda tests, timeout: runs.append((tests, timeout)) or ("killed", 1.0))
    assert runner.run([]) == 0
    assert runs == [(["t::a1", "t::a2"], 75.0), (["t::a1", "t::a2"], 75.0)]  # one run per break, 3x the clean + 60 s
    stored = json.loads((tmp_path / "mutants" / "names-outside.json").read_text(encoding="utf-8"))
    assert {name: r["status"] for name, r in stored.items()} == {
        "pkg.a.s_module__1": "killed",
        "pkg.a.s_module__2": "killed",
        "pkg.b.s_module__1": "not checked",
    }
