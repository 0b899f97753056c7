"""One settings table: every face (the library, `qwen-ci`, `qwen-ci-mcp`, the LangChain tool) and the
environment derive a setting from its one line, and refuse the same bad values the same way."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import get_type_hints

import pytest

from integrations.langchain import CodeInterpreterRunnable, QwenCodeInterpreterTool
from qwen_ci_tool import CodeInterpreter, ConfigurationError
from qwen_ci_tool._config import SETTINGS, ClientSettings, resolve_settings
from qwen_ci_tool._settings import Settings
from qwen_ci_tool.cli import main
from qwen_ci_tool.cli.flags import SETTING_FLAGS

from .conftest import PLANTED_KEY

REPO = Path(__file__).resolve().parents[1]
NON_FINITE = ["nan", "inf", "-inf"]


# --- the table ---------------------------------------------------------------------------------


def test_the_table_is_the_client_settings_and_each_resolves_to_a_field() -> None:
    assert list(SETTINGS) == list(get_type_hints(ClientSettings))
    assert set(SETTINGS) <= {f.name for f in fields(Settings)}


def test_every_setting_has_the_one_environment_variable_rule() -> None:
    assert {row.env for row in SETTINGS.values()} == {f"QWEN_CI_{name.upper()}" for name in SETTINGS}


def test_the_flags_and_the_langchain_fields_are_the_tables_faces() -> None:
    faces = [name for name, row in SETTINGS.items() if row.face]
    assert [f.setting for f in SETTING_FLAGS] == faces
    for flag in SETTING_FLAGS:
        row = SETTINGS[flag.setting]
        assert flag.help.startswith(row.help) and row.env in flag.help and flag.type is row.kind
    for cls in (QwenCodeInterpreterTool, CodeInterpreterRunnable):
        for name in faces:
            assert cls.model_fields[name].description == SETTINGS[name].help


# --- the environment -----------------------------------------------------------------------------


def test_each_setting_is_read_from_its_qwen_ci_variable() -> None:
    env = {
        "QWEN_CI_API_KEY": PLANTED_KEY,
        "QWEN_CI_MODEL": "qwen3.5-plus",
        "QWEN_CI_REGION": "singapore",
        "QWEN_CI_PROTOCOL": "responses",
        "QWEN_CI_IDLE_TIMEOUT": "7.5",
        "QWEN_CI_MAX_RETRIES": "0",
        "QWEN_CI_WORKSPACE": "ws-1",
    }
    s = resolve_settings(env=env)
    assert s.api_key is not None and s.api_key.get_secret_value() == PLANTED_KEY
    assert (s.model, s.region, s.protocol, s.idle_timeout, s.max_retries, s.workspace) == (
        "qwen3.5-plus",
        "singapore",
        "responses",
        7.5,
        0,
        "ws-1",
    )
    assert s.base_url == "https://dashscope-intl.aliyuncs.com"


def test_a_keyword_beats_the_environment_and_the_qwen_ci_name_beats_the_vendors() -> None:
    env = {"QWEN_CI_MODEL": "from-env", "QWEN_CI_BASE_URL": "http://a.test", "DASHSCOPE_HTTP_BASE_URL": "http://b.test"}
    s = resolve_settings(env=env, model="given")
    assert s.model == "given" and s.base_url == "http://a.test"
    assert resolve_settings(env={"DASHSCOPE_HTTP_BASE_URL": "http://b.test"}).base_url == "http://b.test"
    # An explicit region still beats a base URL from the environment.
    assert resolve_settings(env=env, region="singapore").base_url == "https://dashscope-intl.aliyuncs.com"


@pytest.mark.parametrize(("value", "said"), [("abc", "a number"), ("nan", "nan"), ("inf", "inf"), ("0", "0")])
def test_a_bad_value_in_the_environment_names_the_variable(value: str, said: str) -> None:
    with pytest.raises(ConfigurationError, match="QWEN_CI_IDLE_TIMEOUT") as caught:
        resolve_settings(env={"QWEN_CI_IDLE_TIMEOUT": value})
    assert said in str(caught.value)


@pytest.mark.parametrize("var", ["QWEN_CI_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"])
def test_a_bad_base_url_in_the_environment_names_the_variable(var: str) -> None:
    with pytest.raises(ConfigurationError, match=f"Invalid {var} 'nope'"):
        resolve_settings(env={var: "nope"})


def test_the_cli_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_CI_TOTAL_TIMEOUT", "nan")
    err = io.StringIO()
    assert main(["doctor"], stdout=io.StringIO(), stderr=err) == 2
    assert "QWEN_CI_TOTAL_TIMEOUT" in err.getvalue()


# --- non-finite numbers, on every face ------------------------------------------------------------


@pytest.mark.parametrize("setting", ["connect_timeout", "idle_timeout", "total_timeout"])
@pytest.mark.parametrize("value", NON_FINITE)
def test_the_library_refuses_a_timeout_that_is_not_a_finite_number(setting: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{setting} must be a positive number of seconds, and finite"):
        CodeInterpreter(api_key=PLANTED_KEY, **{setting: float(value)})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "flags",
    [
        ["--idle-timeout", "nan"],
        ["--total-timeout", "nan"],
        ["--connect-timeout", "nan"],
        ["--total-timeout", "inf"],
        ["--idle-timeout=-inf"],  # argparse reads "-inf" alone as an option
    ],
    ids=lambda flags: " ".join(flags),
)
@pytest.mark.parametrize("command", ["ask", "batch", "doctor"])
def test_the_cli_exits_2_with_the_fix_for_a_timeout_that_is_not_finite(
    command: str, flags: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", PLANTED_KEY)
    tasks = tmp_path / "in.jsonl"
    tasks.write_text('{"id": "1", "question": "2+2?"}\n', encoding="utf-8")
    argv = {
        "ask": ["ask", "2+2?"],
        "batch": ["batch", str(tasks), "-o", str(tmp_path / "out.jsonl")],
        "doctor": ["doctor"],
    }[command]
    out, err = io.StringIO(), io.StringIO()
    assert main([*argv, *flags], stdout=out, stderr=err) == 2
    assert f"{flags[0].split('=')[0]} must be a positive number of seconds, and finite" in err.getvalue()
    assert "Traceback" not in err.getvalue() and PLANTED_KEY not in err.getvalue() + out.getvalue()
    assert not (tmp_path / "out.jsonl").exists()  # nothing was sent, nothing written


@pytest.mark.parametrize("cls", [QwenCodeInterpreterTool, CodeInterpreterRunnable])
@pytest.mark.parametrize("value", NON_FINITE)
def test_the_langchain_tool_refuses_a_timeout_that_is_not_finite(cls: type, value: str) -> None:
    with pytest.raises(ConfigurationError, match="idle_timeout must be a positive number of seconds, and finite"):
        cls(api_key=PLANTED_KEY, idle_timeout=float(value))


def test_the_mcp_server_refuses_to_start_with_an_idle_timeout_of_nan() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "DASHSCOPE_API_KEY": PLANTED_KEY}
    proc = subprocess.run(
        [sys.executable, "-m", "mcp_server", "--idle-timeout", "nan"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--idle-timeout must be a positive number of seconds, and finite" in proc.stderr
    assert proc.stdout == "" and PLANTED_KEY not in proc.stderr


@pytest.mark.parametrize("command", ["ask", "batch"])
def test_with_the_emulator_a_bad_setting_is_refused_before_the_emulator_starts(command: str, tmp_path: Path) -> None:
    tasks = tmp_path / "in.jsonl"
    tasks.write_text('{"id": "1", "question": "2+2?"}\n', encoding="utf-8")
    argv = ["ask", "2+2?"] if command == "ask" else ["batch", str(tasks), "-o", str(tmp_path / "out.jsonl")]
    err = io.StringIO()
    assert main([*argv, "--emulator", "--idle-timeout", "nan"], stdout=io.StringIO(), stderr=err) == 2
    assert "--idle-timeout must be a positive number" in err.getvalue() and "emulator" not in err.getvalue()
