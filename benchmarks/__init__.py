"""Benchmarks: what qwen-ci-tool costs on top of the network (``python -m benchmarks``)."""
