"""MCP server for qwen-ci-tool (filled in by the MCP issue)."""
