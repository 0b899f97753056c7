"""Framework integrations for qwen-ci-tool."""
