"""``make mutate ... KINDS=names`` (the breaks are in tests/mutate_names.py): ``python tests/mutate_names_run.py
run|results|show ...`` in mutate's work tree, with the mutation venv's python.

``run`` is mutmut's with its breaks replaced by these inside the functions it switches at call time; then every
other break of these kinds (names with ``.s_``) runs here, one at a time: the module's new text is written into a
copy of the tree (``outside/``), a fresh pytest runs the selected tests that ran code of that module or of a
module naming what the break changed (learnt once per state of the tests and sources by a pytest run of the whole
selection that records, per test, which library files ran and whether it passed: that run is the clean run of
every selection, so a selection with a test that did not pass there is "not checked"), and the file is put back. Results stay in
``mutants/names-outside.json`` and are listed by ``results`` with mutmut's; ``show NAME`` prints either kind.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Run as a script, this directory comes first on sys.path; the tests mutmut runs must not import from it.
if sys.path and Path(sys.path[0]).resolve() == HERE:
    del sys.path[0]

RESULTS = Path("mutants/names-outside.json")
TRACED = Path("mutants/names-outside-tests.json")
COPY = Path("outside")
PACKAGES = ("qwen_ci_tool", "mcp_server", "integrations")
#: A pytest plugin (written into the copy) recording, per test, which watched library files ran code, and how long
#: each test that passed took (the clean run of every selection: a selection of passed tests needs no other).
TRACER = """import json, os, sys, threading
WATCH = set(os.environ["MUTATE_NAMES_WATCH"].split(os.pathsep))
ran = {}
current = [None]
def _profile(frame, event, arg):
    if event == "call" and current[0] and frame.f_code.co_filename in WATCH:
        ran.setdefault(frame.f_code.co_filename, set()).add(current[0])
took = {}
failed = set()
def pytest_runtest_protocol(item, nextitem):
    current[0] = item.nodeid
def pytest_runtest_logreport(report):
    took[report.nodeid] = took.get(report.nodeid, 0.0) + report.duration
    if report.failed:
        failed.add(report.nodeid)
def pytest_sessionstart(session):
    sys.setprofile(_profile)
    threading.setprofile(_profile)
def pytest_sessionfinish(session, exitstatus):
    sys.setprofile(None)
    with open(os.environ["MUTATE_NAMES_TRACED"], "w") as out:
        ok = {k: v for k, v in took.items() if k not in failed}
        json.dump({"ran": {k: sorted(v) for k, v in ran.items()}, "took": ok}, out)
"""


def _kinds() -> Any:
    spec = importlib.util.spec_from_file_location("mutate_names", HERE / "mutate_names.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate_names"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _table() -> dict[str, Any]:
    return tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]  # type: ignore[no-any-return]


def _files(table: dict[str, Any]) -> list[str]:
    mutated = sorted(str(f) for p in table["source_paths"] for f in Path(p).rglob("*.py"))
    return [f for f in mutated if f not in table["do_not_mutate"]]


def _pytest(tests: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[str, float]:
    """Runs *tests* in the copy (to the first failure unless *env* is given, for the tracing run):
    ("killed"|"survived"|"timeout"|"suspicious", seconds)."""
    first = [] if env else ["-x"]
    command = [sys.executable, "-m", "pytest", *first, "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]
    environment = {**os.environ, "PYTHONPATH": str(COPY.resolve()), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    environment.pop("MUTANT_UNDER_TEST", None)
    start = time.monotonic()
    with subprocess.Popen(
        command, cwd=COPY, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    ) as process:
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return "timeout", time.monotonic() - start
    return {0: "survived", 1: "killed"}.get(code, "suspicious"), time.monotonic() - start


def _copy(table: dict[str, Any]) -> None:
    shutil.rmtree(COPY, ignore_errors=True)
    for name in [*(p.rstrip("/") for p in table["source_paths"]), *table["also_copy"]]:
        source = Path(name)
        if source.is_dir():
            shutil.copytree(source, COPY / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, COPY / name)
    (COPY / "mutate_names_trace.py").write_text(TRACER, encoding="utf-8")


def _state(table: dict[str, Any]) -> str:
    """A digest of what the test selection depends on: the tests and the library sources."""
    digest = hashlib.sha256(" ".join(table["pytest_add_cli_args_test_selection"]).encode())
    for path in sorted(p for top in ("tests", *PACKAGES) for p in Path(top).rglob("*.py")):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def _traced(table: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Per library file (relative path), the selected tests that ran code of it; and the seconds each selected
    test that passed took (cached per ``_state``)."""
    state = _state(table)
    # A cache written before the runner kept the times (no "took") is traced again.
    if (
        TRACED.exists()
        and (cached := json.loads(TRACED.read_text(encoding="utf-8")))["state"] == state
        and "took" in cached
    ):
        return cached["ran"], cached["took"]
    watch = [str((COPY / p).resolve()) for top in PACKAGES for p in Path(top).rglob("*.py")]
    out = (COPY / "traced.json").resolve()
    print("mutate: learning which tests run which library files (one run of the whole selection)...", flush=True)
    env = {"MUTATE_NAMES_WATCH": os.pathsep.join(watch), "MUTATE_NAMES_TRACED": str(out)}
    tests = [
        "-p",
        "mutate_names_trace",
        "--continue-on-collection-errors",
        *table["pytest_add_cli_args_test_selection"],
    ]
    _pytest(tests, 3600, env)
    prefix = str(COPY.resolve()) + os.sep
    traced = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {"ran": {}, "took": {}}
    ran = {k.removeprefix(prefix): v for k, v in traced["ran"].items()}
    TRACED.write_text(json.dumps({"state": state, "ran": ran, "took": traced["took"]}), encoding="utf-8")
    return ran, traced["took"]


def clean_seconds(tests: list[str], took: dict[str, float]) -> float | None:
    """How long *tests* took together in the traced run, or None when one of them did not pass there (failed,
    errored, or never ran): the traced run is their clean run, so no break is judged against a red selection."""
    if any(test not in took for test in tests):
        return None
    return sum(took[test] for test in tests)


def _selection(name: str, path: str, ran: dict[str, list[str]]) -> list[str]:
    """The tests that ran code of *path*, or of a library file naming the top-level name the break is in."""
    scope = name.rsplit(".s_", 1)[1].rsplit("__", 1)[0]
    files = {path}
    if scope != "module":
        word = re.compile(rf"\b{re.escape(scope)}\b")
        files |= {f for f in ran if word.search(Path(f).read_text(encoding="utf-8"))}
    return sorted({test for f in files for test in ran.get(f, [])})


def run(names: list[str]) -> int:
    table = _table()
    kinds = _kinds()
    breaks = [
        b for f in _files(table) for b in kinds.outside_breaks(f, Path(f).read_text(encoding="utf-8"), Path.cwd())
    ]
    stored = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results = {b.name: stored[b.name] for b in breaks if stored.get(b.name, {}).get("diff") == b.diff}
    chosen = [b for b in breaks if any(fnmatch.fnmatch(b.name, n) for n in names)] if names else breaks
    todo = [b for b in chosen if names or b.name not in results]
    if names and not chosen:
        print(f"mutate: no break outside mutmut matches {' '.join(names)}")
        return 1
    print(f"\n{len(breaks)} breaks outside mutmut's functions, {len(todo)} to run", flush=True)
    ran: dict[str, list[str]] = {}
    took: dict[str, float] = {}
    if todo:
        _copy(table)
        ran, took = _traced(table)
    for b in todo:
        tests = _selection(b.name, b.path, ran)
        if not tests:
            status = "no tests"
        elif (seconds := clean_seconds(tests, took)) is None:
            status = "not checked"
            print(f"mutate: of the {len(tests)} tests for {b.name}, some did not pass in the traced (clean) run")
        else:
            target = COPY / b.path
            original = target.read_bytes()
            try:
                target.write_text(b.code, encoding="utf-8")
                status, _ = _pytest(tests, seconds * 3 + 60)
            finally:
                target.write_bytes(original)
        results[b.name] = {"path": b.path, "line": b.line, "diff": b.diff, "status": status, "tests": len(tests)}
        RESULTS.write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(f"    {b.name}: {status} ({len(tests)} tests)", flush=True)
    RESULTS.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


def results(show_killed: bool) -> None:
    for name, result in (json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}).items():
        if show_killed or result["status"] != "killed":
            print(f"    {name}: {result['status']}")


def show(name: str) -> int:
    result = (json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}).get(name)
    if result is None:
        print(f"mutate: no break outside mutmut named {name} (run it first)")
        return 1
    print(f"# {name}: {result['status']} ({result['tests']} tests)\n{result['diff']}")
    return 0


def _create_mutations(filename: str, code: str, covered_lines: Any = None, coverage_excluded_lines: Any = None) -> Any:
    """mutmut's ``create_mutations`` with these kinds, keeping only the breaks inside its trampolines."""
    import libcst as cst
    from mutmut.mutation.file_mutation import Mutation
    from mutmut.mutation.pragma_handling import get_ignored_lines

    kinds = sys.modules["mutate_names"]
    wrapper = cst.MetadataWrapper(cst.parse_module(code))
    ignored = get_ignored_lines(filename, code, wrapper, coverage_excluded_lines)
    constants = kinds.module_constants(code, Path(filename).resolve(), Path.cwd().resolve())
    skip = ignored.no_mutate_lines | ignored.ignore_pattern_lines
    found = kinds.find_breaks(wrapper, constants, skip, ignored.ignore_node_lines)
    if covered_lines is not None:
        found = [b for b in found if b.line in covered_lines]
    return wrapper.module, [Mutation(b.node, b.new, b.function) for b in found if b.function is not None], set(), set()


def _inside_mutants() -> int:
    """How many mutants mutmut made (its ``mutants/**/*.meta`` files list them)."""
    return sum(
        len(json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {}))
        for meta in Path("mutants").rglob("*.meta")
    )


def main(argv: list[str]) -> int:
    from mutmut.__main__ import cli
    from mutmut.mutation import file_mutation

    _kinds()
    file_mutation.create_mutations = _create_mutations  # mutate_file_contents looks it up at each call
    command, rest = (argv[0], argv[1:]) if argv else ("--help", [])
    outside = [name for name in rest if ".s_" in name]
    inside = [name for name in rest if ".s_" not in name]
    if command == "show" and outside:
        return show(outside[0])
    if not (command == "run" and outside and not inside):
        try:
            cli.main([command, *inside], prog_name="mutmut", standalone_mode=False)
        except SystemExit as stop:
            # mutmut stops with 1 when it made no mutant (no names break inside a function of these files):
            # the breaks outside its functions are still to run. Any other failure ends here.
            if stop.code and command == "run" and _inside_mutants() > 0:
                return stop.code if isinstance(stop.code, int) else 1
    if command == "run":
        return run(outside) if outside or not inside else 0  # MUTANTS naming only mutmut's: none of the others
    if command == "results":
        results(show_killed="--all" in rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
