"""What a release publishes: the sdist and wheel as built (offline, no build isolation), the
metadata PyPI shows, ``server.json`` for the MCP Registry, and the release workflow."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

from qwen_ci_tool import __version__

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PACKAGES = ("qwen_ci_tool", "mcp_server", "integrations")
SERVER_JSON = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
# The registry's own schema (modelcontextprotocol/registry, internal/validators/schemas/2025-12-11.json).
SCHEMA = json.loads((Path(__file__).parent / "data" / "server.schema.json").read_text(encoding="utf-8"))
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from it, as `python -m build` makes them for a release."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as whl:
        return whl.namelist()


def _metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as whl:
        (name,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(whl.read(name).decode("utf-8"))
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(value)
    return fields


def test_the_wheel_ships_the_license_and_a_py_typed_in_each_of_the_three_packages(dist: dict[str, Path]) -> None:
    names = _wheel_names(dist["wheel"])
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    for package in PACKAGES:
        assert f"{package}/py.typed" in names, package
    assert "mcp_server/__main__.py" in names and "integrations/langchain.py" in names


def test_the_wheel_holds_only_the_three_packages(dist: dict[str, Path]) -> None:
    tops = {n.split("/", 1)[0] for n in _wheel_names(dist["wheel"]) if ".dist-info/" not in n}
    assert tops == set(PACKAGES)


def test_the_sdist_leaves_out_tests_benchmarks_and_ci(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = [n.split("/", 1)[1] for n in sdist.getnames() if "/" in n]
    tops = {n.split("/", 1)[0] for n in names}
    assert not tops & {"tests", "benchmarks", ".ci", ".github", "deploy"}, sorted(tops)
    for needed in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "server.json", "mcp_server/py.typed"):
        assert needed in names, needed


def test_the_published_metadata_has_the_project_urls_and_no_dev_extra(dist: dict[str, Path]) -> None:
    meta = _metadata(dist["wheel"])
    assert meta["Version"] == [__version__]
    assert sorted(meta["Provides-Extra"]) == ["all", "cli", "langchain", "mcp", "otel", "socks"]
    assert not any("dev" in r for r in meta.get("Requires-Dist", []) if "extra ==" in r)
    assert meta["License-Expression"] == ["MIT"]
    urls = dict(u.split(", ", 1) for u in meta["Project-URL"])
    assert set(urls) >= {"Repository", "Issues", "Changelog"}
    assert all(u.startswith("https://github.com/qwen-ci-tool/qwen-ci-tool") for u in urls.values())


def test_server_json_offers_every_setting_of_the_table_as_an_optional_variable() -> None:
    from qwen_ci_tool._config import SETTINGS

    (_, *optional) = SERVER_JSON["packages"][0]["environmentVariables"]
    expected = []
    for row in (row for row in SETTINGS.values() if row.face):  # the settings qwen-ci-mcp has flags for
        entry = {"name": row.env, "description": row.help, "isRequired": False, "isSecret": False}
        entry["format"] = "number" if row.kind in (int, float) else "string"
        if row.default is not None:
            entry["default"] = str(row.default)
        if row.choices:
            entry["choices"] = list(row.choices)
        expected.append(entry)
    assert optional == expected


def _uvx_lines() -> list[tuple[str, str, list[str]]]:
    """The README's `uvx --from 'REQUIREMENT' SCRIPT ARGS` lines: (requirement, script, args)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^uvx --from '([^']+)' (\S+)(.*?)(?:\s+#.*)?$", readme, re.M)
    return [(requirement, script, shlex.split(rest)) for requirement, script, rest in found]


def test_the_readmes_uvx_commands_name_a_real_extra_and_script_and_run_as_written() -> None:
    lines = _uvx_lines()
    assert {script for _, script, _ in lines} == {"qwen-ci", "qwen-ci-mcp"}
    for requirement, script, args in lines:
        extras = Requirement(re.sub(r"^/path/to/clone", PROJECT["name"], requirement)).extras
        assert extras and extras <= set(PROJECT["optional-dependencies"]), requirement
        assert script in PROJECT["scripts"], script
        # uvx would install and run the same console script; here it is installed already.
        installed = shutil.which(script, path=str(Path(sys.executable).parent))
        assert installed is not None
        done = subprocess.run(
            [installed, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
        )
        assert done.returncode == 0, (script, args, done.stderr[-1000:])


def test_the_long_description_pypi_shows_carries_the_mcp_name_line_the_registry_looks_for(
    dist: dict[str, Path],
) -> None:
    with zipfile.ZipFile(dist["wheel"]) as whl:
        (name,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        description = Parser().parsestr(whl.read(name).decode("utf-8")).get_payload()
    assert isinstance(description, str)
    assert f"<!-- mcp-name: {SERVER_JSON['name']} -->" in description


def test_server_json_validates_against_the_registry_schema() -> None:
    assert SERVER_JSON["$schema"] == SCHEMA["$id"]
    assert "2025-12-11" in SCHEMA["$id"]
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(SERVER_JSON)


def test_the_schema_check_refuses_a_server_json_the_registry_would_refuse() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    too_long = dict(SERVER_JSON, description="x" * 101)
    unpinned = dict(SERVER_JSON, packages=[dict(SERVER_JSON["packages"][0], version="latest")])
    assert not validator.is_valid(too_long) and not validator.is_valid(unpinned)


def test_server_json_names_this_package_its_version_and_the_readme_marker() -> None:
    (package,) = SERVER_JSON["packages"]
    assert package["registryType"] == "pypi" and package["identifier"] == PROJECT["name"]
    assert SERVER_JSON["version"] == package["version"] == __version__
    assert package["transport"] == {"type": "stdio"}
    # The registry proves a PyPI package is this server's by this line in its README (the long description).
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"mcp-name: (\S+)", readme) == [SERVER_JSON["name"]]


def _registry_command() -> list[str]:
    """The command an MCP client builds from server.json's package, as VS Code does for PyPI:
    the runtime, its arguments, then ``IDENTIFIER==VERSION`` (the package whose script of that name runs)."""
    (package,) = SERVER_JSON["packages"]
    runtime = [part for arg in package.get("runtimeArguments", []) for part in (arg["name"], arg["value"])]
    return [package.get("runtimeHint", "uvx"), *runtime, f"{package['identifier']}=={package['version']}"]


def test_the_command_server_json_gives_clients_runs_a_script_of_the_wheel_that_starts_the_mcp_server(
    dist: dict[str, Path],
) -> None:
    command = _registry_command()
    assert command[0] == "uvx" and command[1] == "--with"  # uvx runs the script named like the package
    script = Requirement(command[-1]).name
    assert PROJECT["scripts"][script] == PROJECT["scripts"]["qwen-ci-mcp"] == "mcp_server.__main__:main"
    with zipfile.ZipFile(dist["wheel"]) as whl:
        (name,) = [n for n in whl.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = whl.read(name).decode("utf-8")
    assert f"{script} = mcp_server.__main__:main" in entry_points
    # The server's dependencies come with it: the [mcp] extra, pinned to the same version.
    extra = Requirement(command[2])
    assert extra.name == script and extra.extras == {"mcp"} and str(extra.specifier) == f"=={__version__}"
    installed = shutil.which(script, path=str(Path(sys.executable).parent))
    assert installed is not None, f"{script} is not installed: run `make venv` again"
    done = subprocess.run([installed, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and __version__ in done.stdout, done.stderr


def test_server_json_asks_for_the_key_as_a_required_secret() -> None:
    env = {v["name"]: v for v in SERVER_JSON["packages"][0]["environmentVariables"]}
    assert env["DASHSCOPE_API_KEY"]["isSecret"] is True and env["DASHSCOPE_API_KEY"]["isRequired"] is True
    assert [name for name, v in env.items() if v.get("isRequired")] == ["DASHSCOPE_API_KEY"]


def test_the_release_workflow_runs_on_version_tags_tests_three_oses_and_publishes_by_trusted_publishing() -> None:
    workflow: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML reads the key `on` as True
    jobs = workflow["jobs"]
    matrix = jobs["test"]["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest", "macos-latest"}
    assert matrix["python"] == ["3.11", "3.12", "3.13"]
    publish = jobs["publish"]
    assert set(publish["needs"]) == {"build", "test"}
    assert publish["permissions"] == {"id-token": "write"}
    assert any(str(step.get("uses", "")).startswith("pypa/gh-action-pypi-publish@") for step in publish["steps"])
    assert "password" not in json.dumps(publish)  # trusted publishing: no token


def test_the_release_workflow_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if actionlint is None:  # the dev group installs it wherever its wheel exists (not Intel macOS)
        pytest.skip("actionlint is not installed on this platform")
    done = subprocess.run(
        [actionlint, "-color=false", str(WORKFLOW)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
