"""Three ``qwen-ci-mcp`` replicas on loopback behind a real nginx configured by ``deploy/nginx.conf``.

nginx is Debian's package; the session fixture installs it when it is missing (``apt-get update &&
apt-get install -y nginx``) and these tests skip, saying why, only where that cannot be done. The
nginx configuration is the deploy file itself with only the replica addresses and the listening
port filled in, so a change there that breaks streaming breaks these tests.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_server import RESULT_TOOL_NAME, TOOL_NAME
from qwen_ci_tool.testing import SEED_ANSWER, SEED_QUESTION, Emulator

from ..conftest import PLANTED_KEY
from ..mcp_server.processes import ServerProcess, http_server_process
from ..mcp_server.test_ops import metric_samples, value
from ..mcp_server.test_tool import Progress

pytestmark = pytest.mark.anyio

TOKENS = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-fedcba9876543210xyz"}
REPLICAS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render_nginx_conf(template: str, upstreams: list[str], port: int) -> str:
    """deploy/nginx.conf with the upstream's server lines and the listen port replaced, nothing else."""
    block = re.search(r"upstream qwen_ci_mcp \{(.*?)\n\}", template, re.S)
    assert block, "deploy/nginx.conf has an 'upstream qwen_ci_mcp' block"
    server_line = re.search(r"^(\s*)server \S+( [^;]*)?;$", block.group(1), re.M)
    assert server_line, "the upstream block has a server line"
    indent, params = server_line.group(1), server_line.group(2) or ""
    servers = "".join(f"{indent}server {address}{params};" for address in upstreams)
    body = block.group(1).replace(server_line.group(0), servers)
    conf = template.replace(block.group(1), body)
    conf, listens = re.subn(r"^(\s*)listen \d+;$", rf"\1listen 127.0.0.1:{port};", conf, flags=re.M)
    assert listens == 1, "deploy/nginx.conf listens on one port"
    return conf


class Nginx:
    """nginx with a main configuration of our own that includes the deploy file (as the image does)."""

    def __init__(self, binary: str, site: str, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        (workdir / "site.conf").write_text(site)
        self.main = workdir / "nginx.conf"
        self.binary = binary
        self.main.write_text(
            f"""
daemon on;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;
{"user root root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 1024; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/site.conf;
}}
"""
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        # With "daemon on" the command returns once the master has bound the port: no wait needed.
        command = [self.binary, "-e", str(self.workdir / "error.log"), "-p", str(self.workdir), "-c", str(self.main)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, f"nginx did not start: {done.stderr}"

    def stop(self) -> None:
        pid_file = self.workdir / "nginx.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)

    @property
    def error_log(self) -> str:
        return (self.workdir / "error.log").read_text()


class Team:
    """The replicas (with their emulators) and nginx in front of them."""

    def __init__(self, nginx: Nginx, replicas: list[ServerProcess], emulators: list[Emulator]) -> None:
        self.nginx = nginx
        self.replicas = replicas
        self.emulators = emulators

    async def metrics(self, replica: ServerProcess) -> dict[Any, float]:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(replica.root + "/metrics", headers={"Authorization": f"Bearer {TOKENS['alice']}"})
        response.raise_for_status()
        return metric_samples(response.text)


def start_team(
    stack: ExitStack,
    nginx_binary: str,
    deploy_dir: Path,
    workdir: Path,
    emulators: list[Emulator],
    extra_args: tuple[str, ...] = (),
) -> Team:
    tokens = workdir / "tokens"
    tokens.write_text("".join(f"{name}:{token}\n" for name, token in TOKENS.items()))
    replicas = [
        stack.enter_context(
            http_server_process(
                "--base-url",
                emu.base_url,
                "--max-retries",
                "0",
                "--max-concurrency",
                "32",  # a legacy client's calls all go to one replica (its session is pinned)
                "--auth-token-file",
                str(tokens),
                *extra_args,
                DASHSCOPE_API_KEY=PLANTED_KEY,
            )
        )
        for emu in emulators
    ]
    port = free_port()
    site = render_nginx_conf((deploy_dir / "nginx.conf").read_text(), [f"127.0.0.1:{r.port}" for r in replicas], port)
    nginx = Nginx(nginx_binary, site, port, workdir)
    stack.callback(nginx.stop)
    nginx.start()
    return Team(nginx, replicas, emulators)


class Tally:
    """Counts finished calls; ``reach(n)`` returns once *n* have finished."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = anyio.Event()

    def add(self) -> None:
        self.count += 1
        self._changed.set()
        self._changed = anyio.Event()

    async def reach(self, n: int) -> None:
        while self.count < n:
            await self._changed.wait()


class Outcome:
    def __init__(self, tally: Tally | None = None) -> None:
        self.progress = Progress()
        self.coding = self.progress.seen("running code #1")  # registered before the call starts
        self.result: Any = None
        self.error: BaseException | None = None
        self.tally = tally


async def call_through(url: str, token: str, outcomes: list[Outcome], mode: str = "auto") -> None:
    """One client (its own connection pool) making one call per outcome, all at once."""
    limits = httpx2.Limits(max_connections=len(outcomes), max_keepalive_connections=len(outcomes))
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60, limits=limits) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):

        async def one(outcome: Outcome) -> None:
            try:
                outcome.result = await client.call_tool(
                    TOOL_NAME, {"question": SEED_QUESTION}, progress_callback=outcome.progress
                )
            except Exception as exc:  # the client's own error: what a user of a lost replica sees
                outcome.error = exc
            finally:
                if outcome.tally is not None:
                    outcome.tally.add()

        async with anyio.create_task_group() as tg:
            for outcome in outcomes:
                tg.start_soon(one, outcome)


def answered(outcome: Outcome) -> bool:
    return (
        outcome.result is not None
        and not outcome.result.is_error
        and SEED_ANSWER in str(outcome.result.structured_content.get("answer", ""))
    )


@pytest.fixture
def team(nginx_binary: str, deploy_dir: Path, tmp_path: Path) -> Iterator[Team]:
    with ExitStack() as stack:
        emulators = [stack.enter_context(Emulator()) for _ in range(REPLICAS)]
        yield start_team(stack, nginx_binary, deploy_dir, tmp_path, emulators)


async def test_a_hundred_concurrent_calls_through_nginx_all_complete_with_progress_on_every_replica(
    team: Team,
) -> None:
    outcomes = [Outcome() for _ in range(100)]
    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            # Two clients per token, one per protocol era, 25 calls each.
            for i, (name, mode) in enumerate([(n, m) for n in TOKENS for m in ("auto", "legacy")]):
                tg.start_soon(call_through, team.nginx.url, TOKENS[name], outcomes[i * 25 : (i + 1) * 25], mode)

    failures = [(o.error, o.result) for o in outcomes if not answered(o)]
    assert not failures, failures[:3]
    assert all("running code #1" in o.progress.messages for o in outcomes)
    per_replica = [await team.metrics(r) for r in team.replicas]
    served = [
        sum(value(m, "qwen_ci_calls_total", client=name, outcome="completed", error="") for name in TOKENS)
        for m in per_replica
    ]
    assert sum(served) == 100 and all(n > 0 for n in served), served
    for name in TOKENS:
        assert (
            sum(value(m, "qwen_ci_calls_total", client=name, outcome="completed", error="") for m in per_replica) == 50
        )


async def test_killing_one_replica_mid_run_loses_only_its_calls_and_the_others_keep_serving(
    nginx_binary: str, deploy_dir: Path, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        # The doomed replica's upstream holds every call in the sandbox's "running code" pause, so its
        # calls are certainly in flight when it dies; the others answer at once.
        held = stack.enter_context(Emulator(code_pause=600))
        emulators = [stack.enter_context(Emulator()), held, stack.enter_context(Emulator())]
        team = start_team(stack, nginx_binary, deploy_dir, tmp_path, emulators)
        doomed = team.replicas[1]
        finished = Tally()
        outcomes = [Outcome(finished) for _ in range(30)]
        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                # A stateless client, spread round robin, and a legacy one, its session pinned to one
                # replica (the doomed one, a third of the time: then all its calls are lost).
                tg.start_soon(call_through, team.nginx.url, TOKENS["alice"], outcomes[:15], "auto")
                tg.start_soon(call_through, team.nginx.url, TOKENS["bob"], outcomes[15:], "legacy")
                for outcome in outcomes:  # every call has reached the code stage (or finished)
                    await outcome.coding.wait()
                # Each call on the doomed replica is one request its upstream holds.
                in_flight = len(held.requests)
                assert in_flight == int(value(await team.metrics(doomed), "qwen_ci_calls_in_flight"))
                # The other replicas' calls finish first: a request that reaches the dying replica
                # in the instant it dies (such as a client's tools/list after a call)
                # fails too, and nginx cannot retry a POST that was sent. See the README.
                await finished.reach(len(outcomes) - in_flight)
                await anyio.to_thread.run_sync(doomed.kill)

            # After the loss: new calls all go to the replicas still up.
            after = [Outcome() for _ in range(12)]
            await call_through(team.nginx.url, TOKENS["alice"], after)

    lost = [o for o in outcomes if not answered(o)]
    assert in_flight > 0
    assert len(lost) == in_flight, (len(lost), [(o.error, o.result) for o in lost])
    for outcome in lost:  # each one hears of it, clearly
        if outcome.error is not None:
            assert str(outcome.error), repr(outcome.error)
        else:
            assert outcome.result.is_error and outcome.result.content
    assert all(answered(o) for o in after), [(o.error, o.result) for o in after if not answered(o)]


async def collect_through_nginx(url: str) -> tuple[list[Any], Any]:
    """Start a run through nginx (answered with a handle), then ask for it through nginx until it ends."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKENS['alice']}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        first = await client.call_tool(TOOL_NAME, {"question": SEED_QUESTION})
        run_id = first.structured_content["run_id"]
        answers = []
        while True:
            answer = await client.call_tool(RESULT_TOOL_NAME, {"run_id": run_id})
            answers.append(answer)
            if answer.is_error or answer.structured_content.get("status") != "running" or len(answers) > 50:
                return answers, first


@pytest.mark.parametrize("shared", [True, False], ids=["shared-run-store", "per-replica-runs"])
async def test_a_run_handle_is_answered_by_any_replica_when_they_share_a_run_store(
    nginx_binary: str, deploy_dir: Path, tmp_path: Path, redis_url: str, shared: bool
) -> None:
    store = ("--run-store", redis_url) if shared else ()
    with ExitStack() as stack:
        # Each run sits in the sandbox 2 s, well past --max-wait: the call gets a handle, and the
        # result is asked for several times, round robin over the three replicas.
        emulators = [stack.enter_context(Emulator(code_pause=2.0)) for _ in range(REPLICAS)]
        team = start_team(stack, nginx_binary, deploy_dir, tmp_path, emulators, ("--max-wait", "0.3", *store))
        with anyio.fail_after(60):
            answers, first = await collect_through_nginx(team.nginx.url)

    assert first.structured_content["status"] == "running"
    if shared:
        assert len(answers) >= 3  # so at least two other replicas answered for the run
        assert not answers[-1].is_error
        assert SEED_ANSWER in answers[-1].structured_content["answer"]
    else:  # without it the next replica does not know the run: what an operator must avoid
        assert answers[-1].is_error and "has no run" in answers[-1].content[0].text
