"""deploy/: the Dockerfile, compose file and nginx configuration, checked by parsing them.

There is no container engine on the test machines, so the image is not built here: its
instructions are parsed and checked (slim base, the repository's wheel with the [mcp] extra only,
a non-root user, a HEALTHCHECK on /healthz, no secret in ENV or ARG, a token required). The nginx
file is also run for real by test_balancer.py.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from mcp_server.__main__ import build_parser
from mcp_server.http.app import MAX_REQUEST_BODY_BYTES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRET_WORDS = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    result = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), " ".join(rest.split())))
    return result


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, split into build stages (ARGs before the first FROM go first)."""
    split: list[list[tuple[str, str]]] = [[]]
    for instruction in instructions((DEPLOY / "Dockerfile").read_text()):
        if instruction[0] == "FROM":
            split.append([])
        split[-1].append(instruction)
    return split


def final(stages: list[list[tuple[str, str]]], name: str) -> list[str]:
    return [args for word, args in stages[-1] if word == name]


def test_the_image_starts_from_a_slim_python_base(stages: list[list[tuple[str, str]]]) -> None:
    args = dict(a.split("=", 1) for w, a in stages[0] if w == "ARG" and "=" in a)
    bases = [args.get(a.split()[0].strip("${}"), a.split()[0]) for s in stages[1:] for w, a in s if w == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base) for base in bases), bases


def test_the_image_installs_the_wheel_built_from_this_repository_with_the_mcp_extra_only(
    stages: list[list[tuple[str, str]]],
) -> None:
    build = " ".join(a for s in stages[1:-1] for w, a in s if w == "RUN")
    assert "pip wheel" in build and "--no-deps" in build and build.rstrip().endswith(" .")
    copied = {a.split()[0] for s in stages[1:-1] for w, a in s if w == "COPY"}
    assert {"pyproject.toml", "qwen_ci_tool", "mcp_server"} <= copied
    assert all((DEPLOY.parent / path).exists() for path in copied)
    installs = [a for a in final(stages, "RUN") if "pip install" in a]
    assert len(installs) == 1 and re.search(r"qwen_ci_tool-\*\.whl\)\[mcp\]", installs[0]), installs
    assert "[all]" not in installs[0] and "langchain" not in installs[0]
    assert final(stages, "COPY") == ["--from=build /dist/ /tmp/dist/"]  # nothing else from the context


def test_the_image_runs_as_a_non_root_user(stages: list[list[tuple[str, str]]]) -> None:
    users = final(stages, "USER")
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    run_after_user = [w for w, _ in stages[-1][[i for i, (w, _) in enumerate(stages[-1]) if w == "USER"][-1] :]]
    assert "RUN" not in run_after_user  # nothing runs as root after the switch, and nothing needs to


def test_the_image_checks_its_health_on_healthz_without_a_token(stages: list[list[tuple[str, str]]]) -> None:
    (check,) = final(stages, "HEALTHCHECK")
    assert "/healthz" in check and "8000" in check
    assert "Authorization" not in check and "TOKEN" not in check


def test_no_secret_is_baked_into_the_image(stages: list[list[tuple[str, str]]]) -> None:
    for stage in stages:
        for word, args in stage:
            if word in ("ENV", "ARG", "LABEL"):
                names = re.findall(r"(\w+)=", args) or [args.split()[0]]
                assert not any(SECRET_WORDS.search(n) for n in names), (word, args)
            if word in ("COPY", "ADD"):
                assert not re.search(r"secret|\.env|token|key", args, re.I), (word, args)
    ignored = [
        line for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if line[:1] not in ("", "#")
    ]
    assert ignored[0] == "*"  # the build context is the sources of the wheel only, nothing else of the checkout
    assert not any(SECRET_WORDS.search(line) or "secrets" in line for line in ignored)


def test_the_server_listens_on_all_addresses_so_its_token_rule_applies(stages: list[list[tuple[str, str]]]) -> None:
    (entrypoint,) = final(stages, "ENTRYPOINT")
    argv = json.loads(entrypoint)
    (cmd,) = final(stages, "CMD")
    assert argv[0] == "qwen-ci-mcp"
    args = build_parser().parse_args([*argv[1:], *json.loads(cmd)])
    assert (args.transport, args.host, args.port) == ("streamable-http", "0.0.0.0", 8000)
    assert args.auth_token is None and args.auth_token_file is None  # from the environment at run time


def test_compose_runs_three_replicas_behind_nginx_sharing_runs_through_redis_with_secrets_from_files() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert re.search(r"replicas: 3\b", text)
    assert "QWEN_CI_MCP_AUTH_TOKEN_FILE: /run/secrets/mcp_tokens" in text
    assert "DASHSCOPE_API_KEY_FILE_PATH: /run/secrets/dashscope_api_key" in text
    assert "QWEN_CI_MCP_RUN_STORE: redis://redis:6379/0" in text and re.search(r"^  redis:\n", text, re.M)
    assert not re.search(r"^volumes:", text, re.M)  # no shared volume: the replicas share runs through Redis
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in text
    assert "dockerfile: deploy/Dockerfile" in text
    assert not re.search(r"DASHSCOPE_API_KEY:\s|QWEN_CI_MCP_AUTH_TOKEN:\s", text)  # no secret values inline
    command = re.search(r"command: (\[.*\])", text)
    assert command is not None
    build_parser().parse_args(json.loads(command.group(1).replace("${QWEN_CI_MCP_PUBLIC_HOST:-localhost}", "h")))


def test_nginx_streams_responses_keeps_a_legacy_session_on_one_replica_and_retries_only_a_refused_call() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    directives = {
        shlex.split(line.strip().rstrip(";"))[0]: line.strip().rstrip(";").split(None, 1)[-1]
        for line in conf.splitlines()
        if line.strip() and not line.strip().startswith("#") and line.strip().endswith(";")
    }
    assert directives["proxy_buffering"] == "off"
    assert directives["proxy_http_version"] == "1.1"
    assert 'proxy_set_header Connection ""' in conf
    assert int(directives["proxy_read_timeout"].rstrip("s")) >= 600
    # A draining replica's 503 (sent before anything starts) is retried on the next one; nothing else is.
    assert directives["proxy_next_upstream"].split() == ["error", "timeout", "http_503", "non_idempotent"]
    # A legacy session (and its cancels) stays on one replica; modern clients, with no session id, spread.
    assert directives["hash"] == "$http_mcp_session_id consistent"
    assert directives["proxy_request_buffering"] == "on"  # a body not kept cannot be sent again
    # nginx must let through every body the server itself accepts (it answers 413 above its own cap).
    assert int(directives["client_max_body_size"].rstrip("m")) * 1024 * 1024 >= MAX_REQUEST_BODY_BYTES
    upstream = re.search(r"upstream qwen_ci_mcp \{(.*?)\n\}", conf, re.S)
    assert upstream is not None and not re.search(r"^\s*keepalive\b", upstream.group(1), re.M)
