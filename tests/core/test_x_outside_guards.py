"""Behaviours only `make mutate KINDS=names` broke outside mutmut's functions (issue 26: module and class level,
the breaks x-kinds2 and x-kinds3 left unrun). Each test fails with its break."""

from __future__ import annotations

import pytest

from qwen_ci_tool import CodeInterpreter, ConfigurationError

from ._frames import responses_stream
from ._mock import Script, clients, sse_response


def test_the_responses_path_is_read_from_its_environment_variable_as_a_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # README's settings table: `responses_path` | `QWEN_CI_RESPONSES_PATH`. A row whose kind is not text would
    # take the variable for a JSON object and refuse a path.
    monkeypatch.setenv("QWEN_CI_RESPONSES_PATH", "/gateway/v9/responses")
    script = Script(lambda: sse_response(responses_stream()))
    sync, _ = clients(script, protocol="responses")
    with sync:
        sync.run("hi")
    assert script.requests[0].url.path == "/gateway/v9/responses"


@pytest.mark.parametrize("value", [5, "seed", [("seed", 7)], 0, ""], ids=["int", "text", "pairs", "zero", "empty-text"])
def test_extra_parameters_that_are_not_a_mapping_are_refused_as_a_configuration_error(value: object) -> None:
    # Found by judging KINDS=names `_config.resolve_settings`_2 (`get(...) or {}` -> `get(..., {})`): a falsy non-mapping
    # was silently `{}`, any other raised a bare TypeError/ValueError from dict().
    with pytest.raises(ConfigurationError, match="extra_parameters must be a mapping"):
        CodeInterpreter(api_key="sk-test", extra_parameters=value)  # type: ignore[arg-type]
    assert CodeInterpreter(api_key="sk-test", extra_parameters=None).settings.extra_parameters == {}
