"""A result's exports and its dict, line by line where a user reads or runs them (the script, the
notebook): found by the mutation sweep (issue 26) as lines no test read."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest

from qwen_ci_tool import CodeInterpreterResult, CodeRun, Step, Timings, Usage
from qwen_ci_tool._result import result_markdown
from qwen_ci_tool._types import SSEEvent


def _result(**fields: Any) -> CodeInterpreterResult:
    data: dict[str, Any] = {"answer": "42", "protocol": "responses", "model": "qwen3-max", "status": "completed"}
    return CodeInterpreterResult.from_dict({**data, **fields})


def _one_run(code: str, output: str | None = None, **fields: Any) -> CodeInterpreterResult:
    return _result(
        code_runs=[{"index": 0, "code": code, "output": output}],
        steps=[{"kind": "code", "text": code, "code_run": 0}],
        **fields,
    )


def _rich() -> CodeInterpreterResult:
    """Reasoning, a run that printed, more reasoning (two paragraphs), a run that printed nothing."""
    return _result(
        request_id="rid-7",
        code_runs=[
            {"index": 0, "code": "print('a')\n\n", "output": "a\n"},
            {"index": 1, "code": "x = 6 * 7", "output": ""},
        ],
        steps=[
            {"kind": "reasoning", "text": "First I print.\n"},
            {"kind": "code", "text": "print('a')", "code_run": 0},
            {"kind": "reasoning", "text": "   "},
            {"kind": "reasoning", "text": "Then I multiply.\n\nQuietly."},
            {"kind": "code", "text": "x = 6 * 7", "code_run": 1},
            {"kind": "answer", "text": "42"},
        ],
    )


# --- the Markdown record (the CLI's output, the MCP and LangChain content) -----------------------


def test_the_markdown_record_is_answer_reasoning_code_with_output_and_usage() -> None:
    data = _rich().to_dict()
    data["reasoning"] = "First I print.\nThen I multiply."
    data["code_runs"][0]["output"] = "   a\n"  # its leading spaces kept
    data["usage"] = {**Usage(5, 7, 3, 12, 2).to_dict()}
    rich = CodeInterpreterResult.from_dict(data)
    assert rich.to_markdown(include_reasoning=True) == (
        "## Answer\n"
        "\n"
        "42\n"
        "\n"
        "## Reasoning\n"
        "\n"
        "First I print.\n"
        "\n"
        "Then I multiply.\n"
        "\n"
        "Quietly.\n"
        "\n"
        "## Code run by the interpreter\n"
        "\n"
        "### Run #1\n"
        "\n"
        "```python\n"
        "print('a')\n"
        "```\n"
        "\n"
        "Output:\n"
        "\n"
        "```\n"
        "   a\n"
        "```\n"
        "\n"
        "### Run #2\n"
        "\n"
        "```python\n"
        "x = 6 * 7\n"
        "```\n"
        "\n"
        "Output:\n"
        "\n"
        "```\n"
        "(no output)\n"
        "```\n"
        "\n"
        "## Usage\n"
        "\n"
        "5 input + 7 output tokens (3 reasoning), 12 total; code interpreter calls: 2; "
        "model qwen3-max via responses; request id rid-7.\n"
    )
    assert "## Reasoning" not in rich.to_markdown() and "## Reasoning" not in result_markdown(rich)


def test_the_markdown_record_of_an_incomplete_run_without_code_output_or_request_id_says_so() -> None:
    cut = _one_run("6 * 7", protocol="dashscope", answer="  ", status="incomplete", finish_reason=None)
    text = cut.to_markdown()
    assert text.startswith("**Incomplete result** (finish reason: none).\n\n## Answer\n\n_(no answer text)_\n\n")
    assert text.count("does not return what the code printed") == 1
    assert (
        "_Output: protocol 'dashscope' does not return what the code printed (only 'responses' returns it)._\n"
    ) in text
    assert "Output:\n\n" not in text and "request id" not in text
    assert text.endswith("model qwen3-max via dashscope.\n")
    assert "_Output: " not in result_markdown(cut, note_missing_output=False)
    assert "_Output: " not in _one_run("6 * 7", "42").to_markdown()
    assert "(finish reason: length)" in _result(status="incomplete", finish_reason="length").to_markdown()


def test_the_markdown_record_of_a_protocol_without_code_says_which_protocols_return_it() -> None:
    assert (
        "\n\n## Code run by the interpreter\n\n_Protocol 'openai' does not return the code the interpreter ran "
        "(use protocol 'dashscope' or 'responses')._\n\n## Usage"
    ) in _result(protocol="openai").to_markdown()
    assert "## Code run" not in _result(protocol="dashscope").to_markdown()


def test_a_markdown_cap_shorter_than_its_note_gives_the_note_alone() -> None:
    assert result_markdown(_result(), max_chars=1).startswith("\n\n[truncated: ")


def test_an_sse_events_repr_shows_its_fields_and_at_most_80_bytes_of_data() -> None:
    event = SSEEvent("result", b"x" * 100, b"7", 503)
    assert repr(event) == f"SSEEvent(event='result', data={b'x' * 80!r}, id='7', status=503)"


# --- the script -----------------------------------------------------------------------------------


def test_an_exported_script_is_the_runs_in_order_with_reasoning_output_and_answer_as_comments() -> None:
    script = _rich().to_script()
    assert script == (
        "# Qwen code interpreter run: model qwen3-max via responses, request id rid-7; status completed.\n"
        "\n"
        "# Reasoning:\n"
        "# First I print.\n"
        "\n"
        "# --- code run #1 ---\n"
        "print('a')\n"
        "# Output (as the remote sandbox printed it):\n"
        "# a\n"
        "\n"
        "# Reasoning:\n"
        "# Then I multiply.\n"
        "#\n"
        "# Quietly.\n"
        "\n"
        "# --- code run #2 ---\n"
        "x = 6 * 7\n"
        "# Output (as the remote sandbox printed it):\n"
        "# (nothing)\n"
        "\n"
        "# Answer:\n"
        "# 42\n"
    )


def test_an_exported_script_without_a_request_id_or_an_answer_says_so() -> None:
    script = _result(answer="", status="incomplete", protocol="dashscope").to_script()
    assert script.startswith("# Qwen code interpreter run: model qwen3-max via dashscope; status incomplete.\n")
    assert script.endswith("# Answer:\n# (no answer text)\n")
    assert "does not return the code" not in script  # a protocol that returns code, with no run this time


def test_an_exported_script_of_a_protocol_without_code_says_which_protocols_return_it() -> None:
    script = _result(protocol="openai").to_script()
    assert (
        "# Protocol 'openai' does not return the code the interpreter ran (use protocol 'dashscope' or 'responses').\n"
        in (script)
    )


def test_an_exported_script_says_once_that_the_protocol_returned_no_output_and_running_it_shows_it() -> None:
    script = _one_run("print(1)", protocol="dashscope").to_script()
    assert script.count("does not return what the code printed") == 1
    assert (
        "# Output: protocol 'dashscope' does not return what the code printed (only 'responses' returns it); "
        "running this script shows it.\n"
    ) in script
    assert "Output (as the remote sandbox" not in script
    assert "does not return what the code printed" not in _one_run("print(1)", "1\n").to_script()


def test_an_exported_script_shows_a_last_expression_spread_over_lines_whole() -> None:
    script = _one_run("x = 1\n(x +\n 2)").to_script()
    assert "x = 1\n_show((x +\n 2))\n" in script
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(script, "<exported>", "exec"), {})
    assert printed.getvalue() == "3\n"


def test_an_exported_script_shows_the_value_of_a_last_call_but_leaves_a_last_print_as_it_is() -> None:
    assert "_show(len('abc'))" in _one_run("len('abc')").to_script()
    printed = _one_run("print(1)").to_script()
    assert "\nprint(1)\n" in printed and "_show" not in printed


@pytest.mark.parametrize(
    "code",
    ["x = 1", "# only a comment", "def f(:\n    pass", "for i in range(2):\n    i"],
    ids=["an assignment", "no statement", "not python", "a loop"],
)
def test_an_exported_script_leaves_code_without_a_last_value_as_it_came(code: str) -> None:
    script = _one_run(code).to_script()
    assert f"# --- code run #1 ---\n{code}\n" in script and "_show" not in script


def test_a_code_step_whose_run_the_result_dropped_is_left_out_of_both_exports() -> None:
    dropped = _result(protocol="dashscope", steps=[{"kind": "code", "text": "", "code_run": 0}])
    assert "code run #" not in dropped.to_script()
    assert [c["cell_type"] for c in dropped.to_notebook()["cells"]] == ["markdown", "markdown"]


# --- the notebook --------------------------------------------------------------------------------


def test_an_exported_notebook_is_reasoning_code_with_its_output_and_the_answer_in_cells() -> None:
    notebook = _rich().to_notebook()
    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] == 5
    assert notebook["metadata"] == {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    assert notebook["cells"] == [
        {
            "id": "cell-0",
            "cell_type": "markdown",
            "metadata": {},
            "source": ["Qwen code interpreter run: model qwen3-max via responses, request id rid-7; status completed."],
        },
        {
            "id": "cell-1",
            "cell_type": "markdown",
            "metadata": {},
            "source": ["**Reasoning**\n", "\n", "> First I print."],
        },
        {
            "id": "cell-2",
            "cell_type": "code",
            "metadata": {},
            "source": ["print('a')\n", "\n"],
            "execution_count": None,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["a\n"]}],
        },
        {
            "id": "cell-3",
            "cell_type": "markdown",
            "metadata": {},
            "source": ["**Reasoning**\n", "\n", "> Then I multiply.\n", "> \n", "> Quietly."],
        },
        {
            "id": "cell-4",
            "cell_type": "code",
            "metadata": {},
            "source": ["x = 6 * 7"],
            "execution_count": None,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": []}],
        },
        {"id": "cell-5", "cell_type": "markdown", "metadata": {}, "source": ["## Answer\n", "\n", "42"]},
    ]


def test_an_exported_notebook_leaves_outputs_empty_where_the_protocol_returned_none_and_says_no_answer() -> None:
    cells = _one_run("6 * 7", protocol="dashscope", answer="").to_notebook()["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "markdown"]
    assert cells[1]["source"] == ["6 * 7"] and cells[1]["outputs"] == []
    assert cells[2]["source"] == ["## Answer\n", "\n", "_(no answer text)_"]


# --- the dict --------------------------------------------------------------------------------------


def test_a_result_turned_to_a_dict_and_back_is_the_same_result() -> None:
    result = CodeInterpreterResult(
        answer="42",
        reasoning="think",
        code_runs=(CodeRun(0, "6*7", "42", "ctr-1"),),
        steps=(Step("reasoning", "think"), Step("code", "6*7", 0), Step("answer", "42")),
        usage=Usage(1, 2, 3, 4, 5),
        request_id="rid",
        model="m",
        protocol="a-newer-protocol",
        finish_reason="stop",
        status="completed",
        timings=Timings(0.5, 2.0),
        code_returned=False,
    )
    data = result.to_dict()
    assert data["code_returned"] is False and data["timings"] == {"time_to_first_event": 0.5, "total_time": 2.0}
    assert data["code_runs"] == [{"index": 0, "code": "6*7", "output": "42", "container_id": "ctr-1"}]
    assert CodeInterpreterResult.from_dict(data) == result


def test_a_dict_with_only_an_answer_reads_back_with_empty_text_fields() -> None:
    result = CodeInterpreterResult.from_dict({"answer": "42"})
    assert (result.reasoning, result.model, result.protocol, result.request_id) == ("", "", "", None)
    assert (result.code_runs, result.steps, result.usage, result.timings) == ((), (), Usage(), Timings())
