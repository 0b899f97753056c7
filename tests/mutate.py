"""Mutation testing of chosen library files with mutmut: ``make mutate FILES="qwen_ci_tool/_sse.py" TESTS="tests/core/"``.

mutmut breaks each statement of the named files in turn (a flipped comparison, a dropped argument, a changed
constant...) and runs the tests that called the broken function; a mutant that no test notices is a line
nothing guards. The run happens in a copy of the working tree (``.mutate/<id>``, one per set of files; mutmut's results stay
there between runs), with a venv of its own (``.venv-mutate``: the project's dependencies without the
project, so the mutated copy is what every test imports, including the CLI and stdio subprocesses the
tests start, through ``PYTHONPATH``).

Limits: a function reached only inside a subprocess shows as "no tests" (mutmut maps tests to functions
in-process); check those by hand. The selection should include the faces' tests for core files
(tests/cli, tests/integrations, tests/mcp_server call the core).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("qwen_ci_tool", "mcp_server", "integrations")
#: mutmut with the breaks it does not make (``--kinds more``, ``--kinds names``).
KINDS = {
    "more": Path(__file__).resolve().parent / "mutate_kinds.py",
    "names": Path(__file__).resolve().parent / "mutate_names_run.py",
}
#: Functions left unmutated in the copy, each with why. uvicorn calls the app it is given with no arguments to
#: detect an app factory; mutmut's stand-in for the outermost ASGI ``__call__`` accepts that, so no HTTP
#: server test could start. Break this one by hand.
NOT_MUTATED = (
    ("mcp_server/http/routes.py", "    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:"),
)
#: Tests that cannot pass on mutmut's copy, each with why: deselected in every run (a failing clean run stops
#: mutmut before any mutant, every one "not checked").
NOT_UNDER_MUTMUT = (
    (
        "tests/testing/test_emulator_server.py::test_public_names_are_sorted_complete_and_report_the_package",
        "mutmut adds names of its own to each module it mutates",
    ),
    (
        "tests/testing/test_emulator_server.py::test_the_emulator_imports_only_the_standard_library",
        "each module mutmut mutates imports mutmut",
    ),
)
#: What the tests read besides the packages (copied into the work tree unmutated).
ALSO_COPY = ("tests", "benchmarks", "examples", "deploy", "server.json", "README.md", "pyproject.toml")


def mutmut_config(pyproject: str, files: list[str], tests: list[str], jobs: int, every_py: list[str]) -> str:
    """*pyproject* with a ``[tool.mutmut]`` table that mutates only *files* (of *every_py*, the packages'
    Python files) and selects *tests*."""
    if not files:
        raise SystemExit("mutate: no file matched FILES; give paths like qwen_ci_tool/_sse.py")
    if unknown := [f for f in files if f not in every_py]:
        raise SystemExit(f"mutate: not a library file: {', '.join(unknown)} (give files under {', '.join(PACKAGES)})")
    packages = sorted({f.split("/")[0] for f in files})
    body = pyproject.split("\n[tool.mutmut]", 1)[0].rstrip("\n")
    table = {
        "source_paths": [f"{p}/" for p in packages],
        "do_not_mutate": [p for p in every_py if p.split("/")[0] in packages and p not in files],
        "pytest_add_cli_args_test_selection": [*tests, *(f"--deselect={test}" for test, _ in NOT_UNDER_MUTMUT)],
        "max_children": jobs,
        "also_copy": [p for p in (*PACKAGES, *ALSO_COPY) if p not in packages],
    }
    return body + "\n\n[tool.mutmut]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())


def work_dir(files: list[str], kinds: str = "mutmut") -> Path:
    """Where mutmut runs for this set of files and kinds of break: its results are kept per set (a cache made
    for other files, or other kinds, would take these as already generated and run none of their mutants)."""
    key = " ".join(sorted(files)) + ("" if kinds == "mutmut" else f" kinds={kinds}")
    return REPO / ".mutate" / hashlib.sha1(key.encode()).hexdigest()[:10]


def not_mutated(text: str, line: str) -> str:
    """*text* with mutmut told to leave the function that *line* starts alone."""
    if text.count(line + "\n") != 1:
        raise SystemExit(f"mutate: update NOT_MUTATED in tests/mutate.py, this line is gone: {line.strip()}")
    return text.replace(line + "\n", line + "  # pragma: no mutate block\n")


def _copy_tree(work: Path) -> None:
    for child in work.iterdir() if work.exists() else ():
        if child.name != "mutants":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)
    for name, line in NOT_MUTATED:
        path = work / name
        path.write_text(not_mutated(path.read_text(encoding="utf-8"), line), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="make mutate", description=__doc__.splitlines()[0])
    p.add_argument("--files", required=True, help="library files (globs) to mutate, space separated")
    p.add_argument("--tests", default="tests/core/", help="test paths to select, space separated")
    p.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    p.add_argument("--mutmut", required=True, help="the mutmut executable of the mutation venv")
    p.add_argument(
        "--kinds",
        choices=("mutmut", *KINDS),
        default="mutmut",
        help="mutmut's own breaks, or ones it does not make (tests/mutate_kinds.py, tests/mutate_names.py)",
    )
    p.add_argument("mutants", nargs="*", help="re-run only these mutants (names or globs from `mutmut results`)")
    args = p.parse_args(argv)
    mutmut = os.path.abspath(args.mutmut)
    os.chdir(REPO)
    every_py = sorted(str(f) for pkg in PACKAGES for f in Path(pkg).rglob("*.py"))
    files = sorted({f for pattern in args.files.split() for f in glob.glob(pattern)})
    config = mutmut_config(
        Path("pyproject.toml").read_text(encoding="utf-8"), files, args.tests.split(), args.jobs, every_py
    )
    work = work_dir(files, args.kinds)
    command = [mutmut] if args.kinds == "mutmut" else [str(Path(mutmut).parent / "python"), str(KINDS[args.kinds])]
    work.mkdir(parents=True, exist_ok=True)
    _copy_tree(work)
    (work / "pyproject.toml").write_text(config, encoding="utf-8")
    # The directory must exist before Python starts, or the PYTHONPATH entry is remembered as missing.
    (work / "mutants").mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(work / "mutants")}
    subprocess.run([*command, "run", *args.mutants], cwd=work, env=env, check=False)
    every = subprocess.run([*command, "results", "--all", "true"], cwd=work, env=env, capture_output=True, text=True)
    ran = [line for line in every.stdout.splitlines() if ": " in line]
    if not ran:
        print("\nmutate: mutmut ran no mutant of these files (see its output above): nothing was checked.")
        return 1
    left = [line for line in ran if not line.rstrip().endswith(": killed")]
    print(f"\n{len(ran) - len(left)} of {len(ran)} mutants killed. Not killed", end="")
    print(f" (details: cd {work.relative_to(REPO)} && {' '.join(command)} show NAME):" if left else ": none.")
    print("\n".join(left))
    return 0


if __name__ == "__main__":
    sys.exit(main())
