"""What every benchmark shares: the machine, the contenders, timing, statistics and tables."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

SEED_QUESTION = "What is 123 to the power of 21?"
MODEL = "qwen3-max-preview"
API_KEY = "sk-bench"
NATIVE_PATH = "/api/v1/services/aigc/text-generation/generation"
COMPAT_PATH = "/compatible-mode/v1/chat/completions"
BLOCK = 65536  # the emulator renders the whole stream first, then writes it in blocks this big
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository the benchmarks run from

# --- the machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _package_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def commit() -> dict[str, Any]:
    """The commit measured: HEAD of the repository the benchmarks run from, and whether the work
    tree differed from it (then the figures are of uncommitted code)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "HEAD")
    return {
        "commit": head or None,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")) if head else None,
    }


def load() -> dict[str, float]:
    """The machine's load averages (1, 5, 15 min): other work on a shared machine skews wall times."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return {}
    return {"1min": round(one, 2), "5min": round(five, 2), "15min": round(fifteen, 2)}


def machine() -> dict[str, Any]:
    """The machine the figures come from, named in every table and in the JSON."""
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        mem = 0
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(mem / 2**30, 1),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {
            name: _package_version(name)
            for name in ("qwen-ci-tool", "httpx", "httpx-sse", "anyio", "dashscope", "openai", "mcp", "langchain-core")
        },
    }


def machine_line(m: dict[str, Any]) -> str:
    return f"{m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['platform']}; {m['python']}"


@contextlib.contextmanager
def logging_kept() -> Iterator[None]:
    """Undo logging set-up done inside (the MCP server's ``basicConfig`` on the root logger)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def raise_nofile(want: int = 65536) -> tuple[int, int]:
    """Raise the soft open-files limit (for 1,000 sockets); returns the (soft, hard) limits now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far.

    ``VmHWM`` (Linux), not ``ru_maxrss``: a child started by fork and exec keeps its parent's
    ``ru_maxrss`` high-water mark, ``VmHWM`` belongs to the new program alone.
    """
    hwm = proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def proc_status_mb(field: str) -> float | None:
    """A size field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``) in MB; None where there is none (not Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# --- statistics ---------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    v = sorted(values)
    return {
        "median": statistics.median(v),
        "min": v[0],
        "max": v[-1],
        "n": len(v),
    }


def percentile(values: Sequence[float], q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, round(q / 100 * (len(v) - 1))))
    return v[k]


# --- requests the floor sends (the same the core sends) -------------------------------------------


def native_request(base: str) -> tuple[str, dict[str, str], bytes]:
    body = {
        "model": MODEL,
        "input": {"messages": [{"role": "user", "content": SEED_QUESTION}]},
        "parameters": {
            "enable_code_interpreter": True,
            "enable_thinking": True,
            "result_format": "message",
            "incremental_output": True,
        },
    }
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Accept": "text/event-stream",
        "Content-Type": "application/json; charset=utf-8",
        "X-DashScope-SSE": "enable",
    }
    return base + NATIVE_PATH, headers, json.dumps(body).encode()


def compat_request(base: str) -> tuple[str, dict[str, str], bytes]:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": SEED_QUESTION}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "enable_code_interpreter": True,
        "enable_thinking": True,
    }
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
    }
    return base + COMPAT_PATH, headers, json.dumps(body).encode()


# --- contenders ---------------------------------------------------------------------------------


class Unavailable(Exception):
    """A contender that cannot run here (package missing, layer not built yet)."""


class Contender:
    """One way to make the call. ``call()`` runs one whole request and returns the events seen."""

    name = ""
    label = ""
    compat_label = ""  # the label on the "compat" wire where it says more than the name does
    wire = "native"  # which endpoint: "native" or "compat"
    is_async = False

    def __init__(self, wire: str | None = None) -> None:
        """*wire* "compat": a contender that speaks both wires calls the OpenAI-compatible endpoint,
        and its name (and label) say so. Without it, the class's own wire."""
        if wire is not None:
            self.wire = wire
        if wire == "compat":
            self.name += "-compat"
            self.label = self.compat_label or self.label

    def open(self, base: str) -> None:
        raise NotImplementedError

    def call(self) -> Any:  # int, or an awaitable of int for async contenders
        raise NotImplementedError

    def close(self) -> None:
        pass


def _data_lines(chunks: Iterator[bytes] | Sequence[bytes], kept: list[str], rest: bytes) -> bytes:
    """Split body bytes into lines; json.loads each ``data:`` line and keep its text. Returns the
    unfinished last line. The least any client of this wire must do."""
    loads = json.loads
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line[:5] == b"data:":
                text = line[5:].strip().decode()
                if text != "[DONE]":
                    loads(text)
                kept.append(text)
    return rest


class FloorSync(Contender):
    """The true floor: read the body bytes, split the ``data:`` lines, json.loads each and keep
    its text. No SSE library, no typed events, no result: what any client must pay at least."""

    name, label = "floor", "floor: body bytes, split data: lines, json.loads, keep the text"

    def open(self, base: str) -> None:
        import httpx

        self.client = httpx.Client(timeout=60)
        self.url, self.headers, self.body = (native_request if self.wire == "native" else compat_request)(base)

    def call(self) -> int:
        kept: list[str] = []
        with self.client.stream("POST", self.url, headers=self.headers, content=self.body) as response:
            rest = _data_lines(response.iter_raw(), kept, b"")
        _data_lines([b"\n"], kept, rest)
        return len(kept)

    def close(self) -> None:
        self.client.close()


class FloorAsync(FloorSync):
    name, label = "floor-async", "floor, async: httpx.AsyncClient body bytes, data: lines, json.loads"
    is_async = True

    def open(self, base: str) -> None:
        import httpx

        self.client = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None))  # type: ignore[assignment]
        self.url, self.headers, self.body = (native_request if self.wire == "native" else compat_request)(base)

    async def call(self) -> int:  # type: ignore[override]
        kept: list[str] = []
        rest = b""
        async with self.client.stream("POST", self.url, headers=self.headers, content=self.body) as response:  # type: ignore[attr-defined]
            async for chunk in response.aiter_raw():
                rest = _data_lines([chunk], kept, rest)
        _data_lines([b"\n"], kept, rest)
        return len(kept)

    def close(self) -> None:
        _run(self.client.aclose())  # type: ignore[attr-defined]


def _typical_event(sse: Any) -> int:
    """What the typical client does with each event: json.loads its data (the ``[DONE]`` sentinel
    aside). Returns 1, to count the events."""
    if sse.data != "[DONE]":
        json.loads(sse.data)
    return 1


class HttpxSSESync(FloorSync):
    """The typical client: httpx + httpx-sse + json.loads, building nothing."""

    name, label = "httpx-sse", "typical client: httpx + httpx-sse + json.loads"

    def call(self) -> int:
        from httpx_sse import EventSource

        with self.client.stream("POST", self.url, headers=self.headers, content=self.body) as response:
            return sum(map(_typical_event, EventSource(response).iter_sse()))


class HttpxSSEAsync(FloorAsync):
    name, label = "httpx-sse-async", "typical client, async: httpx.AsyncClient + aiter_sse + json.loads"

    async def call(self) -> int:  # type: ignore[override]
        from httpx_sse import EventSource

        async with self.client.stream("POST", self.url, headers=self.headers, content=self.body) as response:  # type: ignore[attr-defined]
            return sum([_typical_event(sse) async for sse in EventSource(response).aiter_sse()])


class OursSync(Contender):
    name, label = "ours-sync", "qwen-ci-tool, sync: CodeInterpreter.run"
    compat_label = "qwen-ci-tool, sync, protocol='openai'"

    def _settings(self, base: str) -> dict[str, Any]:
        return {
            "api_key": API_KEY,
            "base_url": base,
            "model": MODEL,
            "protocol": "dashscope" if self.wire == "native" else "openai",
            "max_retries": 0,
        }

    def open(self, base: str) -> None:
        from qwen_ci_tool import CodeInterpreter

        self.client = CodeInterpreter(**self._settings(base))

    def call(self) -> int:
        self.result = self.client.run(SEED_QUESTION)
        return 0

    def close(self) -> None:
        self.client.close()


class OursSyncTelemetryOff(OursSync):
    """``ours-sync`` with the OpenTelemetry hook switched off, as without ``opentelemetry-api``: the
    baseline the no-op API's cost is measured against (same stream, same run, interleaved)."""

    name, label = "ours-sync-otel-off", "qwen-ci-tool, sync, telemetry off (no opentelemetry-api)"

    def call(self) -> int:
        from qwen_ci_tool import _telemetry

        saved, _telemetry._api = _telemetry._api, None
        try:
            return super().call()
        finally:
            _telemetry._api = saved


class OursAsync(OursSync):
    name, label = "ours-async", "qwen-ci-tool, async: AsyncCodeInterpreter.run"
    compat_label = "qwen-ci-tool, async, protocol='openai'"
    is_async = True

    def open(self, base: str) -> None:
        from qwen_ci_tool import AsyncCodeInterpreter

        self.client = AsyncCodeInterpreter(**self._settings(base))  # type: ignore[assignment]

    async def call(self) -> int:  # type: ignore[override]
        self.result = await self.client.run(SEED_QUESTION)  # type: ignore[misc]
        return 0

    def close(self) -> None:
        _run(self.client.aclose())  # type: ignore[attr-defined]


def dashscope_stream(question: str = SEED_QUESTION, api_key: str = API_KEY, model: str = MODEL) -> Iterator[Any]:
    """The dashscope SDK's streaming call with the code interpreter, as its users write it; yields the
    SDK's chunks. Where it goes is the SDK's own setting, ``dashscope.base_http_api_url``."""
    import dashscope

    return iter(
        dashscope.Generation.call(
            model=model,
            messages=[{"role": "user", "content": question}],
            enable_code_interpreter=True,
            enable_thinking=True,
            result_format="message",
            stream=True,
            incremental_output=True,
            api_key=api_key,
        )
    )


class DashScopeSDK(Contender):
    name, label = "dashscope", "dashscope SDK: Generation.call(stream=True)"

    def open(self, base: str) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                import dashscope
            except ImportError as exc:
                raise Unavailable(f"dashscope is not installed ({exc})") from None
        dashscope.base_http_api_url = base + "/api/v1"

    def stream(self) -> Iterator[Any]:
        return dashscope_stream()

    def call(self) -> int:
        n = 0
        for chunk in self.stream():
            if chunk.status_code != 200:
                raise RuntimeError(f"dashscope SDK got {chunk.status_code}: {chunk.message}")
            n += 1
        return n


def openai_stream(client: Any, question: str = SEED_QUESTION, model: str = MODEL) -> Iterator[Any]:
    """The openai SDK's streaming chat call with the code interpreter, as its users write it (the
    DashScope switches go in ``extra_body``); yields the SDK's chunks."""
    return iter(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"enable_code_interpreter": True, "enable_thinking": True},
        )
    )


class OpenAISDK(Contender):
    name, label = "openai", "openai SDK: chat.completions.create(stream=True)"
    wire = "compat"

    def open(self, base: str) -> None:
        try:
            from openai import OpenAI
        except ImportError as exc:
            raise Unavailable(f"openai is not installed ({exc})") from None
        self.client = OpenAI(base_url=base + "/compatible-mode/v1", api_key=API_KEY, max_retries=0)

    def stream(self) -> Iterator[Any]:
        return openai_stream(self.client)

    def call(self) -> int:
        n = 0
        for _chunk in self.stream():
            n += 1
        return n

    def close(self) -> None:
        self.client.close()


# --- running -----------------------------------------------------------------------------------

_LOOP: asyncio.AbstractEventLoop | None = None


def loop() -> asyncio.AbstractEventLoop:
    """One event loop for every async contender of the run (clients stay bound to it)."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


def _run(coro: Awaitable[Any]) -> Any:
    return loop().run_until_complete(coro)  # type: ignore[arg-type]


def settle() -> None:
    """Collects what earlier work left behind, so that no sample pays for collecting it, then freezes
    what survives (``gc.freeze``): the next ``settle`` scans only what was allocated since, not the
    whole heap of imported SDKs again (a full collection of it took tens of ms, a fifth of a quick run's
    CPU). Every contender samples under the same collector."""
    gc.collect()
    gc.freeze()


def call_once(c: Contender) -> int:
    return _run(c.call()) if c.is_async else c.call()


@dataclass
class Measured:
    contender: str
    label: str
    cpu: list[float] = field(default_factory=list)  # CPU seconds per call
    wall: list[float] = field(default_factory=list)  # wall seconds per call
    events: int = 0
    error: str | None = None
    probe: Any = None  # what ``probe(contender)`` returned, after the timed samples


def measure(
    contenders: Sequence[Contender],
    base: str,
    *,
    repeats: int,
    calls: int = 1,
    warmup: int = 2,
    probe: Callable[[Contender], Any] | None = None,
) -> dict[str, Measured]:
    """CPU and wall time per call of each contender, on the same stream, interleaved.

    Each sample is ``calls`` back-to-back calls (so that short calls are timed over many
    milliseconds); samples rotate between contenders so that drift hits them all alike.
    ``probe(contender)`` runs once per contender after the samples (e.g. a memory-traced call).
    """
    out: dict[str, Measured] = {}
    live: list[Contender] = []
    for c in contenders:
        m = out[c.name] = Measured(c.name, c.label)
        try:
            c.open(base)
            for _ in range(warmup):
                m.events = call_once(c)
            live.append(c)
        except Unavailable as exc:
            m.error = str(exc)
        except Exception as exc:  # a contender that breaks is reported, not fatal
            m.error = f"{type(exc).__name__}: {exc}"
    for r in range(repeats):
        order = live[r % len(live) :] + live[: r % len(live)] if live else []
        for c in order:
            m = out[c.name]
            settle()
            t0, w0 = time.process_time(), time.perf_counter()
            for _ in range(calls):
                call_once(c)
            m.cpu.append((time.process_time() - t0) / calls)
            m.wall.append((time.perf_counter() - w0) / calls)
    for c in live:
        if probe is not None:
            out[c.name].probe = probe(c)
        with contextlib.suppress(Exception):
            c.close()
    return out


Session = Callable[[], Any]  # one call; returns a value or an awaitable of one


async def interleaved(
    sessions: dict[str, Session],
    *,
    rounds: int,
    warmup: int,
    sample: Callable[[str, Any, float, float], None],
) -> dict[str, str]:
    """Side by side: each round calls every session once, in an order that rotates every round,
    so that drift (other work on the machine, a warming cache) hits every contender alike.

    ``sample(name, value, wall_s, cpu_s)`` gets each timed call. Sync sessions run in the event
    loop's thread, blocking it, as a sync caller would. Returns the sessions that failed, with why
    (a failing session is dropped from the run, not fatal).
    """
    errors: dict[str, str] = {}

    async def call(fn: Session) -> Any:
        value = fn()
        return await value if inspect.isawaitable(value) else value

    live = []
    for name, fn in sessions.items():
        try:
            for _ in range(warmup):
                await call(fn)
            live.append(name)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"[:300]
    for r in range(rounds):
        k = r % len(live) if live else 0
        for name in live[k:] + live[:k]:
            settle()
            t0, w0 = time.process_time(), time.perf_counter()
            value = await call(sessions[name])
            sample(name, value, time.perf_counter() - w0, time.process_time() - t0)
    return errors


def traced_peak(c: Contender) -> tuple[float, float]:
    """(peak traced Python memory during one call above what was allocated before it, bytes retained
    after it). The contender must be open and warm."""
    settle()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call_once(c)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return float(peak - before), float(current - before)


# --- tables -------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 2) -> str:
    """A GitHub-flavoured markdown table (prints well in a terminal too): the first ``left``
    columns are text, aligned left; the others are figures, aligned right."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for k, r in enumerate(cells):
        lines.append(
            "| " + " | ".join(v.ljust(widths[i]) if i < left else v.rjust(widths[i]) for i, v in enumerate(r)) + " |"
        )
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 1) + ("-" if i < left else ":") for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    return str(v)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def script_parser(doc: str) -> argparse.ArgumentParser:
    """The command line of one benchmark part: ``--quick`` for tiny inputs, ``--json`` for raw figures
    (a part that takes more adds its own options)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    return parser


def script_report(title: str, data: Any, render: Callable[[Any], str], *, as_json: bool) -> None:
    """One benchmark part's figures as a script prints them: the title and machine, the table, the JSON."""
    print(f"{title} ({machine_line(machine())})\n")
    print(render(data))
    if as_json:
        print(json.dumps(data, indent=1))


def script_main(doc: str, title: str, run: Callable[[bool], Any], render: Callable[[Any], str]) -> None:
    """A benchmark part run alone with the options every part takes (:func:`script_parser`)."""
    args = script_parser(doc).parse_args()
    script_report(title, run(args.quick), render, as_json=args.json)


def mcp_stdio_params(base: str, *extra: str) -> Any:
    """How a client starts our MCP server over stdio against the emulator at *base*."""
    from mcp import StdioServerParameters

    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": ROOT,
        "DASHSCOPE_API_KEY": API_KEY,
        "DASHSCOPE_HTTP_BASE_URL": base + "/api/v1",
    }
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--model", MODEL, "--max-retries", "0", *extra],
        env=env,
        cwd=ROOT,
    )


def python_server(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``python ARGS`` started from the repository root with exactly *env*, as a server: nothing on
    its stdin or stdout, its log (stderr) a pipe for the caller to read."""
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
