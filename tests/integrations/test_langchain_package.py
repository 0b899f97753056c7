"""The package surface: the public names, importing without LangChain, and the example agent."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import integrations.langchain
from qwen_ci_tool.testing import SEED_ANSWER

ROOT = Path(__file__).resolve().parents[2]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("langchain_agent_example", ROOT / "examples" / "langchain_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_offline_example_prints_the_stages_the_final_message_and_the_artifact(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert load_example().main(["--offline"]) == 0

    out = capsys.readouterr().out
    assert out.index("[thinking]") < out.index("[running code #1]") < out.index("[done]")
    final = next(line for line in out.splitlines() if line.startswith("Final message:"))
    assert SEED_ANSWER in final
    assert "code run #1: 123**21" in out
    assert "status:     completed" in out


def test_the_offline_example_retries_a_broken_stream_with_the_recommended_middleware(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert load_example().main(["--offline", "--flaky"]) == 0

    out = capsys.readouterr().out
    assert out.index("[failed: StreamInterruptedError, will retry]") < out.index("tool call call_1 failed")
    assert out.index("tool call call_1 failed") < out.index("[running code #1]") < out.index("[done]")
    assert "Tool call call_1 (success):" in out
    assert SEED_ANSWER in next(line for line in out.splitlines() if line.startswith("Final message:"))


def test_the_example_can_print_every_tool_output_delta_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_example().main(["--offline", "--deltas"]) == 0

    deltas = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("  {")]
    assert {d["type"] for d in deltas} == {"stage", "reasoning", "code", "answer"}
    assert {"type": "code", "index": 0, "code": "123**21", "output": None} in deltas


def test_the_example_without_a_key_says_how_to_run_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_example().main([]) == 2

    assert "DASHSCOPE_API_KEY" in capsys.readouterr().err


def test_the_integrations_package_imports_without_langchain_installed() -> None:
    code = (
        "import sys\n"
        "sys.modules['langchain_core'] = None\n"
        "import integrations\n"
        "try:\n"
        "    import integrations.langchain\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )

    assert "pip install 'qwen-ci-tool[langchain]'" in done.stdout


def test_all_names_exactly_the_public_surface_sorted() -> None:
    tool = "QwenCodeInterpreterTool QwenCodeInterpreterInput error_content is_retryable"
    runnable = "CodeInterpreterRunnable CodeInterpreterInput STAGE_EVENT code_run_blocks"
    assert integrations.langchain.__all__ == sorted(f"{tool} {runnable}".split())
    assert integrations.langchain.__all__ == sorted(integrations.langchain.__all__)
