"""The schemas both tools publish, as a client lists them: every part of the output described and closed,
and the result tool's one argument bounded and explained."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME, create_server
from qwen_ci_tool._protocols import PROTOCOLS, returning

from ..conftest import PLANTED_KEY

pytestmark = pytest.mark.anyio

#: Fields whose name says it all: the only ones published without a description.
UNDESCRIBED = {
    ("Usage", "input_tokens"),
    ("Usage", "output_tokens"),
    ("Usage", "reasoning_tokens"),
    ("Usage", "total_tokens"),
    ("Step", "kind"),
    ("CodeInterpreterResult", "usage"),
    ("CodeInterpreterResult", "model"),
    ("CodeInterpreterResult", "timings"),
}


#: What each field of the output holds, as published: a name is another object of the schema.
TYPES: dict[str, dict[str, Any]] = {
    "CodeInterpreterResultModel": {
        "answer": "string",
        "reasoning": "string",
        "code_runs": ("array", "CodeRun"),
        "steps": ("array", "Step"),
        "usage": "Usage",
        "request_id": ["string", "null"],
        "model": "string",
        "protocol": "string",
        "finish_reason": ["string", "null"],
        "status": ("enum", ["completed", "incomplete"]),
        "code_returned": "boolean",
        "timings": "Timings",
        "truncated": ("array", "string"),
    },
    "CodeRun": {"index": "integer", "code": "string", "output": ["string", "null"], "container_id": ["string", "null"]},
    "RunPendingModel": {
        "status": ("const", "running"),
        "run_id": "string",
        "stage": "string",
        "elapsed_seconds": "number",
        "result_tool": ("const", RESULT_TOOL_NAME),
    },
    "Step": {
        "kind": ("enum", ["reasoning", "code", "answer"]),
        "chars": ["integer", "null"],
        "code_run": ["integer", "null"],
    },
    "Timings": {"time_to_first_event": ["number", "null"], "total_time": "number"},
    "Usage": dict.fromkeys(
        ["input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "code_interpreter_calls"], "integer"
    ),
}


def type_of(spec: dict[str, Any]) -> Any:
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    for word in ("const", "enum"):
        if word in spec:
            return (word, spec[word])
    if spec["type"] == "array":
        return ("array", type_of(spec["items"]))
    return spec["type"]


async def listed_tools() -> dict[str, dict[str, Any]]:
    async with Client(create_server(api_key=PLANTED_KEY)) as client:
        with anyio.fail_after(10):
            tools = (await client.list_tools()).tools
    return {tool.name: tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in tools}


async def test_both_tools_publish_one_output_schema_named_for_what_it_holds() -> None:
    tools = await listed_tools()
    schema = tools[TOOL_NAME]["outputSchema"]

    assert tools[RESULT_TOOL_NAME]["outputSchema"] == schema  # a result fetched later has the same shape
    assert schema["title"] == "CodeInterpreterOutput"
    assert "running" in schema["description"] and "handle" in schema["description"]
    assert {name: part["title"] for name, part in schema["$defs"].items()} == {
        "CodeInterpreterResultModel": "CodeInterpreterResult",
        "RunPendingModel": "RunPending",
        "CodeRun": "CodeRun",
        "Step": "Step",
        "Timings": "Timings",
        "Usage": "Usage",
    }


async def test_every_object_in_the_output_schema_refuses_fields_it_does_not_name() -> None:
    schema = (await listed_tools())[TOOL_NAME]["outputSchema"]

    assert {name: part.get("additionalProperties") for name, part in schema["$defs"].items()} == dict.fromkeys(
        schema["$defs"], False
    )


async def test_every_output_field_has_its_published_type_and_is_always_present() -> None:
    defs = (await listed_tools())[TOOL_NAME]["outputSchema"]["$defs"]

    assert {name: {f: type_of(spec) for f, spec in part["properties"].items()} for name, part in defs.items()} == TYPES
    assert {name: sorted(part["required"]) for name, part in defs.items()} == {
        name: sorted(fields) for name, fields in TYPES.items()
    }


async def test_every_output_field_but_the_self_explaining_ones_is_described() -> None:
    schema = (await listed_tools())[TOOL_NAME]["outputSchema"]

    undescribed = {
        (part["title"], field)
        for part in schema["$defs"].values()
        for field, spec in part["properties"].items()
        if not spec.get("description")
    }
    assert undescribed == UNDESCRIBED
    # Each object says what it is (the class's own words), except the two timings.
    described = {part["title"] for part in schema["$defs"].values() if part.get("description")}
    assert described == {"CodeInterpreterResult", "RunPending", "CodeRun", "Step", "Usage"}


async def test_the_output_descriptions_tell_an_agent_what_to_do_with_each_field() -> None:
    defs = (await listed_tools())[TOOL_NAME]["outputSchema"]["$defs"]
    result, pending = defs["CodeInterpreterResultModel"], defs["RunPendingModel"]

    def says(part: dict[str, Any], field: str) -> str:
        return str(part["properties"][field]["description"])

    assert RESULT_TOOL_NAME in says(pending, "run_id")
    assert "run_id" in says(pending, "result_tool")
    assert pending["properties"]["result_tool"]["const"] == RESULT_TOOL_NAME
    assert "not ready" in says(pending, "status")
    assert "started" in says(pending, "elapsed_seconds")
    assert "not an error" in pending["description"]
    assert "'completed' only when the model finished" in says(result, "status")
    assert "--max-output-chars" in says(result, "truncated") and "empty" in says(result, "truncated")
    assert "support" in says(result, "request_id")
    assert all(f"'{name}'" in says(result, "protocol") for name in PROTOCOLS)
    assert "stop" in says(result, "finish_reason")
    code_run, step, usage = defs["CodeRun"], defs["Step"], defs["Usage"]
    assert all(f"'{name}'" in says(code_run, "output") for name in returning(output=True))
    assert "null" in says(code_run, "output")
    assert "0-based" in says(code_run, "index")
    assert "sandbox" in says(code_run, "container_id")
    assert "the next `chars` characters" in says(step, "chars") and "Null for code steps" in says(step, "chars")
    assert step["properties"]["kind"]["enum"] == ["reasoning", "code", "answer"]
    assert "index of the code run" in says(step, "code_run")
    assert "interpreter ran code" in says(usage, "code_interpreter_calls")
    assert "first event" in says(defs["Timings"], "time_to_first_event")
    assert "to the end" in says(defs["Timings"], "total_time")


async def test_the_result_tool_takes_one_bounded_run_id_named_after_the_tool_that_gives_it() -> None:
    schema = (await listed_tools())[RESULT_TOOL_NAME]["inputSchema"]

    assert schema["required"] == ["run_id"]
    run_id = schema["properties"]["run_id"]
    assert (run_id["type"], run_id["minLength"], run_id["maxLength"]) == ("string", 1, 200)
    assert TOOL_NAME in run_id["description"] and "'running'" in run_id["description"]
