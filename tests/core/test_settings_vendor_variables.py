"""Which environment variables a setting reads besides its own ``QWEN_CI_<NAME>`` (a class-body
break of the settings table, issue 26): only the vendor's documented ones, and only where named."""

from __future__ import annotations

from qwen_ci_tool._config import SETTINGS, resolve_settings


def test_only_the_key_the_base_url_and_the_workspace_also_read_the_vendors_variable() -> None:
    vendor = {name: row.vendor_env for name, row in SETTINGS.items() if row.vendor_env}
    assert vendor == {
        "api_key": ("DASHSCOPE_API_KEY",),
        "base_url": ("DASHSCOPE_HTTP_BASE_URL",),
        "workspace": ("DASHSCOPE_WORKSPACE_ID",),
    }


def test_a_vendor_variable_is_read_after_the_settings_own() -> None:
    env = {"DASHSCOPE_API_KEY": "sk-test", "DASHSCOPE_WORKSPACE_ID": "ws-vendor", "QWEN_CI_WORKSPACE": "ws-own"}
    assert resolve_settings(env=env).workspace == "ws-own"
    assert resolve_settings(env={"DASHSCOPE_API_KEY": "sk-test", "DASHSCOPE_WORKSPACE_ID": "ws-vendor"}).workspace == (
        "ws-vendor"
    )
