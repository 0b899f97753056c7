"""The emulator in its own process, so that its CPU never counts as the client's.

Run by :class:`ServerProcess` (``python -m benchmarks._server SPEC...``). Each ``SPEC`` is
``name=kind[,option...]`` with ``kind`` one of ``seed`` (the question decides: the seed
conversation for :data:`SEED_QUESTION`) or ``synthetic:N`` (a stream of about N native frames with
growing ``tool_info``), and options ``block=BYTES``, ``pace=SECONDS``, ``rate=PER_SECOND`` and
``burst=N`` (the emulator's start quota), ``call=SECONDS`` (calls that last that long), ``timed`` (put a
timing relay in front: see below). One emulator per spec, each on its own port; the process prints one line,
``READY {"name": "http://127.0.0.1:port", ...}``, then serves until its stdin closes.

The timing relay forwards bytes both ways and notes ``time.monotonic()`` just before it hands each
piece of the reply to the client's socket: "the upstream event arrived" in the latency benchmark. On Linux
``time.monotonic()`` is one system-wide clock, so the client compares it with its own. Send
``TIMES`` on stdin to get ``TIMES [[t, nbytes], ...]`` (and clear the log); ``COUNTS`` for
``COUNTS {"name": [requests, refused with 429], ...}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = ["ServerProcess"]

_BACKLOG = 4096


def _raise_nofile() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 65536), hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not Linux
        pass


def _deep_backlog() -> None:
    """1,000 clients connect at once: asyncio's default listen backlog (100) would drop SYNs and
    add 1 s retransmission stalls that measure the kernel, not the clients."""
    original = asyncio.start_server

    async def start_server(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("backlog", _BACKLOG)
        return await original(*args, **kwargs)

    asyncio.start_server = start_server  # type: ignore[assignment]


class _Relay:
    """A TCP relay in its own thread that timestamps every piece of the reply it forwards."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.times: list[tuple[float, int]] = []
        self.port = 0
        self._ready = threading.Event()
        threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True).start()
        self._ready.wait(10)

    async def _main(self) -> None:
        server = await asyncio.start_server(self._on_client, "127.0.0.1", 0, backlog=_BACKLOG)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, log: bool) -> None:
            try:
                while data := await src.read(1 << 20):
                    # Noted just before the write: the client (on another core) may wake and
                    # handle the bytes before this thread gets to read the clock after it.
                    if log:
                        self.times.append((time.monotonic(), len(data)))
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))


def _conversation(kind: str) -> Any:
    from qwen_ci_tool.testing import synthetic_conversation

    if kind == "seed":
        return None
    if kind.startswith("synthetic:"):
        return synthetic_conversation(int(kind.split(":", 1)[1]))
    raise SystemExit(f"unknown conversation kind {kind!r}")


def main(argv: list[str]) -> None:
    _raise_nofile()
    _deep_backlog()
    from qwen_ci_tool.testing import Emulator

    urls: dict[str, str] = {}
    relays: dict[str, _Relay] = {}
    emulators = []
    for spec in argv:
        name, _, rest = spec.partition("=")
        kind, *options = rest.split(",")
        kwargs: dict[str, Any] = {"conversation": _conversation(kind)}
        timed = False
        for option in options:
            key, _, value = option.partition("=")
            if key == "block":
                kwargs["block_size"] = int(value)
            elif key == "pace":
                kwargs["pace"] = float(value)
            elif key == "rate":
                kwargs["rate_limit"] = float(value)
            elif key == "burst":
                kwargs["rate_burst"] = float(value)
            elif key == "call":
                kwargs["call_seconds"] = float(value)
            elif key == "timed":
                timed = True
            else:
                raise SystemExit(f"unknown option {option!r}")
        emu = Emulator(**kwargs).start()
        emulators.append(emu)
        if timed:
            relays[name] = _Relay(emu.port)
            urls[name] = f"http://127.0.0.1:{relays[name].port}"
        else:
            urls[name] = emu.base_url
    print("READY " + json.dumps(urls), flush=True)
    for line in sys.stdin:
        if line.strip() == "COUNTS":
            counts = {name: [len(e.requests), e.throttled] for name, e in zip(urls, emulators, strict=True)}
            print("COUNTS " + json.dumps(counts), flush=True)
        elif line.strip() == "TIMES":
            log: list[tuple[float, int]] = []
            for relay in relays.values():
                log += relay.times
                relay.times.clear()
            print("TIMES " + json.dumps(sorted(log)), flush=True)
    for emu in emulators:
        emu.stop()


class ServerProcess:
    """Start the emulators in a child process; ``urls[name]`` is each one's base URL.

    >>> with ServerProcess(seed="seed,block=65536") as srv: srv.urls["seed"]
    """

    def __init__(self, **specs: str) -> None:
        self.specs = specs
        self.proc: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}

    def __enter__(self) -> ServerProcess:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", *(f"{k}={v}" for k, v in self.specs.items())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.__exit__()
            raise RuntimeError(f"the emulator process did not start (said {line!r})")
        self.urls = json.loads(line[6:])
        return self

    def times(self) -> list[tuple[float, int]]:
        """Arrival times (``time.monotonic()``) and sizes of reply pieces since the last call."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("TIMES\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return [tuple(x) for x in json.loads(line[6:])]  # type: ignore[misc]

    def counts(self) -> dict[str, tuple[int, int]]:
        """Each emulator's requests received and requests it refused with a 429, so far."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("COUNTS\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return {name: (n, t) for name, (n, t) in json.loads(line[7:]).items()}

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    main(sys.argv[1:])
