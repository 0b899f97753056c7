"""Behaviours of the LangChain tool that `make mutate ... KINDS=names` left unguarded (issue 26, helper x-names-mcp).
Each test fails with its break."""

from __future__ import annotations

from integrations import langchain as lc
from qwen_ci_tool import AuthenticationError

from ..conftest import PLANTED_KEY


def test_without_the_name_the_model_called_an_error_message_names_the_tool_by_its_default_name() -> None:
    # error_content with no request (and error_message with no tool=) cannot know a renamed tool's name.
    default = lc.QwenCodeInterpreterTool.model_fields["name"].default
    err = AuthenticationError("bad key", status_code=401)
    for text in (lc.error_content(err), lc.error_message(err)):
        assert text is not None and text.startswith(f"The {default} call failed (AuthenticationError): bad key")


def test_the_api_key_settings_description_names_the_variable_it_is_read_from_by_default() -> None:
    for model in (lc.QwenCodeInterpreterTool, lc.CodeInterpreterRunnable):
        description = model.model_fields["api_key"].description
        assert description == "DashScope API key; default: the DASHSCOPE_API_KEY environment variable."


def test_handle_tool_error_none_is_accepted_as_langchain_documents_it_no_handling() -> None:
    tool = lc.QwenCodeInterpreterTool(api_key=PLANTED_KEY, handle_tool_error=None)
    assert tool.handle_tool_error is None
