"""The emulator's wire catalogue: what ``qwen_ci_tool.testing.Emulator`` sends, byte for byte, in one file.

``tests/data/emulator_wire.txt`` holds the emulator's answers to a fixed set of requests: the seed and
scripted conversations on every endpoint it serves, its refusals of bad requests, each fault, the named
faults, workspace-host errors and throttling - status line, headers and body, each SSE frame on its own
line with its line endings spelt out (``\\n``, ``\\r``). A change to what the emulator sends (a default,
an order, a field name, a header, a line ending) fails ``tests/testing/test_emulator_wire.py`` with a
diff; a change meant is written with

    python -m tests.emulator_wire --write

and reviewed in the diff of ``tests/data/emulator_wire.txt`` like any other change.

Only what is truly not deterministic is normalised, and each normalisation checks what it hides: a
``date`` header must be the request's time; a fresh id (any UUID-4 that is not one of the seed
conversations' pinned ids) must never have been seen in an earlier answer - so an id that stops being
fresh fails - and is shown as ``<id-N>`` (numbered per answer, so ids that should differ still do);
the Responses ids derived from a fresh request id become ``<prefix>_<hex-N>``; a ``created`` or
``created_at`` stamp becomes ``<now>`` only when it is the request's time (a constant stays as it is);
a throttle's waits are checked to lie in their range. Bodies of more than ``BIG`` bytes show their
length and digest; a body equal to an earlier one (over ``SAME`` bytes) names it.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from qwen_ci_tool.testing import (
    FAULT_NAMES,
    SEED_QUESTION,
    TWO_RUN_QUESTION,
    Answer,
    CodeSegment,
    Conversation,
    Delta,
    Emulator,
    Fault,
    Reasoning,
)
from tests.testing import _requests as requests
from tests.texts import catalogue_main

PATH = Path(__file__).resolve().parent / "data" / "emulator_wire.txt"
#: The key the emulator is started with: it must never show in the catalogue.
KEY = "sk-emulator-wire-0123456789-SECRET"
WRONG_KEY = "sk-emulator-wire-wrong-key"

TEXT = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
RESPONSES = "/compatible-mode/v1/responses"
LEGACY_RESPONSES = "/api/v2/apps/protocols/compatible-mode/v1/responses"
MODELS = "/compatible-mode/v1/models"
ENDPOINTS = (TEXT, MULTIMODAL, CHAT, RESPONSES)
SHORT = {TEXT: "text-generation", MULTIMODAL: "multimodal", CHAT: "chat", RESPONSES: "responses"}

#: Ids the seed conversations pin: shown as they are (any other UUID-4 is a fresh one).
PINNED_IDS = frozenset(
    {
        "a1959ad1-2637-4672-a21f-4d351371d254",
        "5d0c6a4e-93a1-4a6e-8f0a-3c1f2b7d9e41",
        "2f96ef0b-5924-4dfc-b768-4d53ec538b4e",
        "0c5e2b7a-4f1d-4e8b-9a63-2d7f1e5c8b90",
        "6a1f0d3e-2b4c-4e59-8d7a-0f3b9c2e1a57",
    }
)
#: A question no script answers.
OTHER_QUESTION = "What is the weather on Mars today?"
#: A small conversation with pinned ids, for the faults (a short stream, every segment kind, a non-ASCII text).
TINY = Conversation(
    name="wire",
    input_tokens=12,
    segments=(
        Reasoning((Delta("Two to the tenth", 4, 4), Delta(" is quick to run.", 5, 5), Delta("", 3))),
        CodeSegment(code="print(2 ** 10)", logs="1024\n", input_tokens_after=40),
        Reasoning((Delta("It printed 1024.", 5, 5),)),
        Answer((Delta("2 to the 10th is ", 6), Delta("**1024** \u2713", 4))),
    ),
    request_id="wire-request-0001",
    chat_id="chatcmpl-wire-0001",
    created=1700000000,
)
TINY_QUESTION = "What is 2 to the 10th?"
#: Bodies longer than this show their length and digest; frames too.
BIG = 16 * 1024
#: A body of more than this many bytes equal to an earlier one names it instead of repeating it.
SAME = 2048
#: Every request's time limit (the emulator answers at once: no pace, no stall).
SECONDS = 5.0
TIMEOUT = httpx.Timeout(SECONDS)

_UUID4 = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_DERIVED = re.compile(rb"\b(resp|cntr|rs|msg|ci)_[0-9a-f]{32}\b")
_STAMP = re.compile(rb'"(created|created_at)":(\d+)')
_FRAME_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


# --- request bodies -----------------------------------------------------------------------------


def native_body(question: str = SEED_QUESTION, model: str = "qwen3-max", *, parts: bool = False, **params: Any) -> Any:
    content: Any = [{"text": question}] if parts else question
    parameters = {
        "enable_code_interpreter": True,
        "enable_thinking": True,
        "result_format": "message",
        "incremental_output": True,
    }
    parameters.update(params)
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": content}]},
        "parameters": {k: v for k, v in parameters.items() if v is not None},
    }


def chat_body(question: str = SEED_QUESTION, *, include_usage: bool = True, **overrides: Any) -> Any:
    """The tests' Chat Completions body with stream_options on by default; an override of None leaves a key out."""
    body = requests.chat_body(question, include_usage=include_usage, **{"model": "qwen3-max", **overrides})
    return {k: v for k, v in body.items() if v is not None}


def responses_body(question: Any = SEED_QUESTION, model: str = "qwen3-max", **overrides: Any) -> Any:
    """The tests' Responses body; an override of None leaves a key out."""
    return {k: v for k, v in requests.responses_body(question, model, **overrides).items() if v is not None}


def body_for(path: str, question: str = SEED_QUESTION) -> Any:
    if path == TEXT:
        return native_body(question)
    if path == MULTIMODAL:
        return native_body(question, "qwen3.6-plus", parts=True)
    if path == CHAT:
        return chat_body(question)
    return responses_body(question)


# --- rendering ------------------------------------------------------------------------------------


def escape(data: bytes) -> str:
    """Bytes as one readable line: UTF-8 text as it is, ``\\\\``, ``\\n``, ``\\r``, ``\\t`` and other
    control characters or bytes that are not UTF-8 escaped."""
    out = []
    for ch in data.decode("utf-8", "surrogateescape"):
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)


def digest(data: bytes) -> str:
    return f"<{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}>"


def frames(body: bytes) -> list[bytes]:
    """The body cut after each blank line (``\\n\\n``, ``\\r\\n\\r\\n`` or ``\\r\\r``), as SSE cuts events."""
    out, start = [], 0
    for match in _FRAME_END.finditer(body):
        out.append(body[start : match.end()])
        start = match.end()
    if start < len(body):
        out.append(body[start:])
    return out


def short_fault(fault: Fault) -> str:
    """``Fault(kind=..., <the fields that differ from the dataclass defaults>)``."""
    parts = [f"kind={fault.kind!r}"]
    for f in fields(fault):
        value = getattr(fault, f.name)
        if f.name != "kind" and value != f.default:
            parts.append(f"{f.name}={value!r}")
    return "Fault(" + ", ".join(parts) + ")"


@dataclass
class Answered:
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes
    ending: str


@dataclass
class Normaliser:
    """Replaces what is not deterministic, after checking it is what it should be."""

    seen: set[bytes] = field(default_factory=set)

    def __call__(self, answer: Answered, started: float, ended: float) -> Answered:
        low, high = int(started) - 1, int(ended) + 1
        headers: list[tuple[str, str]] = []
        for name, value in answer.headers:
            if name.lower() == "date":
                when = parsedate_to_datetime(value).timestamp()
                assert low - 1 <= when <= high + 1, f"the date header {value!r} is not the request's time"
                assert value.endswith(" GMT"), value
                value = "<date>"
            headers.append((name, value))
        head = "\n".join(f"{n}: {v}" for n, v in headers).encode()
        body = answer.body
        ids: dict[bytes, bytes] = {}
        for match in _UUID4.finditer(head + b"\n" + body):
            found = match.group()
            if found.decode() in PINNED_IDS or found in ids:
                continue
            assert found not in self.seen, f"the emulator sent the id {found.decode()} in two answers: ids are fresh"
            ids[found] = b"<id-%d>" % (len(ids) + 1)
        self.seen.update(ids)
        request_id = dict((n.lower(), v) for n, v in answer.headers).get("x-request-id", "")
        fresh = request_id.encode() in ids

        def swap(data: bytes) -> bytes:
            for value, placeholder in ids.items():
                data = data.replace(value, placeholder)
            if fresh:  # ids derived from a fresh request id
                derived: dict[bytes, bytes] = {}

                def name(m: re.Match[bytes]) -> bytes:
                    return derived.setdefault(m.group(), m.group(1) + b"_<hex-%d>" % (len(derived) + 1))

                data = _DERIVED.sub(name, data)

            def stamp(m: re.Match[bytes]) -> bytes:
                if low <= int(m.group(2)) <= high:
                    return b'"' + m.group(1) + b'":<now>'
                return m.group()

            return _STAMP.sub(stamp, data)

        headers = [(n, swap(v.encode()).decode()) for n, v in headers]
        return Answered(answer.status_line, headers, swap(body), answer.ending)


@dataclass
class Wire:
    """One emulator and a client; ``send`` returns an answer's lines."""

    emu: Emulator
    norm: Normaliser
    bodies: dict[str, str]
    labels: set[str]
    #: No connection is reused: one the emulator closed (a drop, a truncation) never serves a next request.
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        self.client = httpx.Client(base_url=self.emu.base_url, timeout=TIMEOUT, limits=limits)

    def send(
        self,
        label: str,
        path: str = TEXT,
        body: Any = None,
        *,
        method: str = "POST",
        key: str | None = "key",
        sse: bool = True,
        fault: Fault | None = None,
        headers: dict[str, str] | None = None,
        check: Callable[[Answered], Answered] | None = None,
        replay: bytes | None = None,
    ) -> Iterator[str]:
        assert label not in self.labels, f"two answers are labelled {label!r}"
        self.labels.add(label)
        self.emu.reset()
        if fault is not None:
            self.emu.add_fault(fault)
        if replay is not None:
            self.emu.replay(replay)
        sent: dict[str, str] = {}
        shown: list[str] = []
        if key is not None:
            value = {"key": KEY, "wrong": WRONG_KEY}.get(key, key)
            sent["authorization"] = f"Bearer {value}" if key in ("key", "wrong") else value
            shown.append({"key": "the emulator's key", "wrong": "a wrong key"}.get(key, repr(key)))
        else:
            shown.append("no key")
        if sse and path.startswith("/api/v1/"):
            sent["x-dashscope-sse"] = "enable"
            shown.append("x-dashscope-sse: enable")
        for name, value in (headers or {}).items():
            sent[name] = value
            shown.append(f"{name}: {value}")
        content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        if content is not None:
            sent["content-type"] = "application/json"
        yield f"=== {label}"
        yield f"> {method} {path} ({'; '.join(shown)})"
        if fault is not None and short_fault(fault) not in label:
            yield f"> fault: {short_fault(fault)}"
        if replay is not None:
            yield f"> replay: {escape(replay)}"
        if content is not None:
            yield f"> {escape(content)}"
        started = time.time()
        with self.client.stream(method, path, content=content, headers=sent) as response:
            chunks: list[bytes] = []
            ending = "complete"
            try:
                for chunk in response.iter_raw():
                    chunks.append(chunk)
            except httpx.HTTPError as exc:
                ending = f"the connection closed mid-body ({type(exc).__name__})"
            version = response.http_version
            status_line = f"{version} {response.status_code} {response.reason_phrase}"
            raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        answer = Answered(status_line, raw_headers, b"".join(chunks), ending)
        yield from self.render(label, answer, started, check)

    def send_raw(self, label: str, request: bytes, shown: bytes | None = None) -> Iterator[str]:
        """Bytes an HTTP client would not send, on a socket of their own; the answer is read to EOF.
        *shown* stands for a request too long to print; an interim 100 Continue is shown on a line of its own."""
        assert label not in self.labels, f"two answers are labelled {label!r}"
        self.labels.add(label)
        self.emu.reset()
        yield f"=== {label}"
        yield f"> raw: {escape((shown or request).replace(KEY.encode(), b'<the key>'))}"
        started = time.time()
        deadline = time.monotonic() + SECONDS
        with socket.create_connection((self.emu.host, self.emu.port), timeout=SECONDS) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
                assert time.monotonic() < deadline, f"{label}: the answer did not end in time"
        interim = b"HTTP/1.1 100 Continue\r\n\r\n"
        if data.startswith(interim):
            yield "< (interim) HTTP/1.1 100 Continue"
            data = data[len(interim) :]
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        raw_headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
        yield from self.render(label, Answered(status_line, raw_headers, body, "complete"), started, None)

    def render(
        self, label: str, answer: Answered, started: float, check: Callable[[Answered], Answered] | None
    ) -> Iterator[str]:
        size = len(answer.body)  # as sent (a placeholder is not as long as what it replaces)
        answer = self.norm(answer, started, time.time())
        if check is not None:
            answer = check(answer)
        yield f"< {answer.status_line}"
        for name, value in answer.headers:
            yield f"< {name}: {value}"
        body = answer.body
        cut = frames(body)
        yield f"< body: {size} bytes, {len(cut)} frames, {answer.ending}"
        key = hashlib.sha256(body).hexdigest()
        if len(body) > SAME and key in self.bodies:
            yield f"  (the same bytes as '{self.bodies[key]}')"
        elif len(body) > BIG and max(len(f) for f in cut) > BIG:
            yield f"  {escape(body[:160])}..."
            yield f"  {digest(body)}"
        else:
            for frame in cut:
                yield f"  {escape(frame)}" if len(frame) <= BIG else f"  {escape(frame[:160])}... {digest(frame)}"
        self.bodies.setdefault(key, label)
        yield ""


class Catalogue:
    """The emulators, their clients and the normaliser, for one rendering."""

    def __init__(self) -> None:
        self.norm = Normaliser()
        self.bodies: dict[str, str] = {}
        self.labels: set[str] = set()
        self.emulators: list[Emulator] = []
        self.wires: list[Wire] = []

    def wire(self, **options: Any) -> Wire:
        emu = Emulator(api_key=KEY, **options).start()
        self.emulators.append(emu)
        w = Wire(emu, self.norm, self.bodies, self.labels)
        self.wires.append(w)
        return w

    def close(self) -> None:
        for w in self.wires:
            w.client.close()
        for emu in self.emulators:
            emu.stop()


# --- the sections ---------------------------------------------------------------------------------


def conversations(w: Wire) -> Iterator[str]:
    w.emu.set_conversation(None)
    yield from w.send("text-generation: the seed", TEXT, native_body())
    yield from w.send("text-generation: two runs", TEXT, native_body(TWO_RUN_QUESTION))
    yield from w.send("text-generation: another question", TEXT, native_body(OTHER_QUESTION))
    yield from w.send("text-generation: another question again (fresh ids)", TEXT, native_body(OTHER_QUESTION))
    prompt = {"model": "qwen3-max", "input": {"prompt": OTHER_QUESTION}, "parameters": native_body()["parameters"]}
    yield from w.send("text-generation: input.prompt instead of messages", TEXT, prompt)
    yield from w.send(
        "text-generation: incremental_output left out", TEXT, native_body(OTHER_QUESTION, incremental_output=None)
    )
    yield from w.send("multimodal: the seed", MULTIMODAL, native_body(SEED_QUESTION, "qwen3.6-plus", parts=True))
    yield from w.send(
        "multimodal: the seed, content as a string", MULTIMODAL, native_body(SEED_QUESTION, "qwen3.5-plus")
    )
    yield from w.send("multimodal: another question", MULTIMODAL, native_body(OTHER_QUESTION, "qwen3.6-plus"))
    yield from w.send("chat: the seed, include_usage", CHAT, chat_body())
    yield from w.send("chat: the seed, no stream_options", CHAT, chat_body(include_usage=False))
    yield from w.send(
        "chat: the seed, include_usage false", CHAT, chat_body(include_usage=False, stream_options={"include_usage": 0})
    )
    yield from w.send("chat: two runs", CHAT, chat_body(TWO_RUN_QUESTION))
    yield from w.send("chat: another question", CHAT, chat_body(OTHER_QUESTION))
    yield from w.send("chat: another question, no usage", CHAT, chat_body(OTHER_QUESTION, include_usage=False))
    yield from w.send("responses: the seed", RESPONSES, responses_body())
    yield from w.send("responses: the seed, not streamed", RESPONSES, responses_body(stream=None))
    yield from w.send("responses: the seed, stream false", RESPONSES, responses_body(stream=False))
    yield from w.send(
        "responses: the seed, input as messages",
        RESPONSES,
        responses_body([{"role": "user", "content": [{"type": "input_text", "text": SEED_QUESTION}]}]),
    )
    yield from w.send("responses: the seed, enable_thinking left out", RESPONSES, responses_body(enable_thinking=None))
    yield from w.send("responses: two runs", RESPONSES, responses_body(TWO_RUN_QUESTION))
    yield from w.send("responses: another question", RESPONSES, responses_body(OTHER_QUESTION))
    yield from w.send(
        "responses: another question, not streamed", RESPONSES, responses_body(OTHER_QUESTION, stream=None)
    )
    yield from w.send("legacy responses path: the seed", LEGACY_RESPONSES, responses_body())
    yield from w.send("legacy responses path: another question", LEGACY_RESPONSES, responses_body(OTHER_QUESTION))
    yield from w.send("the model list", MODELS, method="GET")
    yield from w.send("a trailing slash", TEXT + "/", native_body(OTHER_QUESTION))
    yield from w.send("a query string", CHAT + "?x=1", chat_body(OTHER_QUESTION))


def refusals(w: Wire) -> Iterator[str]:
    w.emu.set_conversation(None)
    for path in (TEXT, CHAT, RESPONSES):
        name = SHORT[path]
        yield from w.send(f"{name}: no key", path, body_for(path), key=None)
        yield from w.send(f"{name}: a wrong key", path, body_for(path), key="wrong")
    yield from w.send("text-generation: Basic credentials", TEXT, native_body(), key="Basic dXNlcjpwYXNz")
    yield from w.send("text-generation: Bearer without a key", TEXT, native_body(), key="Bearer")
    yield from w.send("chat: Basic credentials", CHAT, chat_body(), key="Basic dXNlcjpwYXNz")
    yield from w.send("the model list: no key", MODELS, method="GET", key=None)
    yield from w.send("the model list: a wrong key", MODELS, method="GET", key="wrong")
    for path in (TEXT, CHAT, RESPONSES):
        name = SHORT[path]
        yield from w.send(f"{name}: malformed JSON", path, b'{"model": "qwen3-max",')
        yield from w.send(f"{name}: a JSON list", path, b"[1, 2]")
        yield from w.send(f"{name}: no body", path, None)
        yield from w.send(f"{name}: no model", path, {k: v for k, v in body_for(path).items() if k != "model"})
        yield from w.send(f"{name}: an unknown model", path, {**body_for(path), "model": "no-such-model"})
    yield from w.send("responses: a refused pair", RESPONSES, responses_body(model="qwen-plus"))
    yield from w.send("chat: the refused pair's model over chat", CHAT, chat_body(OTHER_QUESTION, model="qwen-plus"))
    native = [
        ("a Qwen3.5 model on text-generation", native_body(model="qwen3.5-plus")),
        ("no input", {"model": "qwen3-max", "parameters": native_body()["parameters"]}),
        ("no user message", {**native_body(), "input": {"messages": [{"role": "system", "content": "be brief"}]}}),
        ("parameters not an object", {**native_body(), "parameters": [1]}),
        ("interpreter not enabled", native_body(enable_code_interpreter=None)),
        ("interpreter false", native_body(enable_code_interpreter=False)),
        ("tools too", native_body(tools=[{"type": "function", "function": {"name": "f"}}])),
        ("enable_thinking false", native_body(enable_thinking=False)),
        ("enable_thinking left out", native_body(enable_thinking=None)),
        ("incremental_output false", native_body(incremental_output=False)),
        ("result_format text", native_body(result_format="text")),
    ]
    for label, body in native:
        yield from w.send(f"text-generation: {label}", TEXT, body)
    yield from w.send("text-generation: no x-dashscope-sse header", TEXT, native_body(), sse=False)
    yield from w.send("multimodal: no x-dashscope-sse header", MULTIMODAL, native_body(model="qwen3.6-plus"), sse=False)
    yield from w.send("multimodal: enable_thinking false", MULTIMODAL, native_body(enable_thinking=False))
    chat = [
        ("no messages", chat_body(messages=[])),
        ("only a system message", chat_body(messages=[{"role": "system", "content": "hi"}])),
        ("interpreter not enabled", chat_body(enable_code_interpreter=None)),
        ("tools too", chat_body(tools=[{"type": "function", "function": {"name": "f"}}])),
        ("enable_thinking false", chat_body(enable_thinking=False)),
        ("not streamed", chat_body(stream=None)),
    ]
    for label, body in chat:
        yield from w.send(f"chat: {label}", CHAT, body)
    responses = [
        ("no input", responses_body(input=None)),
        ("input a number", responses_body(input=5)),
        ("no tools", responses_body(tools=None)),
        ("a function tool only", responses_body(tools=[{"type": "function", "name": "f"}])),
        ("enable_thinking false", responses_body(enable_thinking=False)),
    ]
    for label, body in responses:
        yield from w.send(f"responses: {label}", RESPONSES, body)
    yield from w.send("an unknown path", "/api/v1/services/aigc/nothing-here", native_body())
    yield from w.send("the root", "/", method="GET")
    yield from w.send("the model list, POST", MODELS, chat_body())
    yield from w.send("text-generation: GET", TEXT, method="GET")
    yield from w.send("chat: GET", CHAT, method="GET")
    yield from w.send("responses: PUT", RESPONSES, responses_body(), method="PUT")
    yield from w.send("multimodal: DELETE", MULTIMODAL, method="DELETE")
    yield from w.send("an unknown fault directive", TEXT, native_body(OTHER_QUESTION + " #fault=nonesuch"))
    yield from w.send_raw("a malformed request line", b"HELLO\r\n\r\n")
    yield from w.send_raw("a malformed header line", b"POST / HTTP/1.1\r\nno colon here\r\n\r\n")
    yield from w.send_raw("a bad Content-Length", b"POST / HTTP/1.1\r\ncontent-length: many\r\n\r\n")
    yield from w.send_raw("a body too large", b"POST / HTTP/1.1\r\ncontent-length: 999999999999\r\n\r\n")
    yield from w.send_raw("a bad chunk size", b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n")
    yield from w.send_raw("a body cut short", b"POST / HTTP/1.1\r\ncontent-length: 10\r\n\r\n{}")
    # Just over the 64 KiB limit and unended: the emulator reads it all before refusing (no reset of unread bytes).
    pad = b"POST / HTTP/1.1\r\nx-pad: " + b"a" * 65_600
    yield from w.send_raw("a request head too large", pad, b"POST / HTTP/1.1\r\nx-pad: <65,600 a>")
    yield from w.send_raw("a request head cut short", b"POST / HTTP/1.1\r\nhost: 127.0.0.1")
    yield from w.send_raw(
        "a chunked body too large", b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n4000001\r\n"
    )
    yield from w.send_raw("a chunked body cut short", b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n")
    yield from w.send_raw(
        "a chunked body with a trailer, connection: close",
        b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2\r\n{}\r\n0\r\nx-sum: 1\r\n\r\n",
    )
    yield from w.send_raw(
        "expect: 100-continue, connection: close",
        b"GET /compatible-mode/v1/models HTTP/1.1\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
    )
    chunked = json.dumps(chat_body(OTHER_QUESTION)).encode()
    yield from w.send_raw(
        "a chunked request body, connection: close",
        f"POST {CHAT} HTTP/1.1\r\nauthorization: Bearer {KEY}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".encode()
        + b"%x\r\n" % len(chunked)
        + chunked
        + b"\r\n0\r\n\r\n",
    )


def workspace(w: Wire, ws: Wire) -> Iterator[str]:
    host = {"host": "ws-0123.cn-beijing.maas.aliyuncs.com"}
    for path in (TEXT, CHAT, RESPONSES):
        name = SHORT[path]
        yield from ws.send(f"workspace host: {name}: no key", path, body_for(path), key=None)
        yield from ws.send(
            f"workspace host: {name}: an unknown model", path, {**body_for(path), "model": "no-such-model"}
        )
        yield from ws.send(
            f"workspace host: {name}: 429", path, body_for(path), fault=Fault.status(429, retry_after="3")
        )
    yield from ws.send("workspace host: chat: GET", CHAT, method="GET")
    yield from ws.send("workspace host: the model list, a wrong key", MODELS, method="GET", key="wrong")
    yield from w.send(
        "a workspace Host header: chat: interpreter not enabled",
        CHAT,
        chat_body(enable_code_interpreter=None),
        headers=host,
    )
    yield from w.send(
        "a workspace Host header: responses: 500", RESPONSES, responses_body(), fault=Fault.status(500), headers=host
    )
    yield from w.send(
        "a workspace Host header with a port: chat: 400",
        CHAT,
        chat_body(),
        fault=Fault.status(400),
        headers={"host": host["host"] + ":443"},
    )


def answering_faults(w: Wire) -> Iterator[str]:
    w.emu.set_conversation(TINY)
    for status, retry in ((400, None), (401, None), (429, "2"), (500, None), (503, "Wed, 21 Oct 2026 07:28:00 GMT")):
        fault = Fault.status(status, retry_after=retry)
        for path in (TEXT, CHAT, RESPONSES):
            yield from w.send(f"{SHORT[path]}: status {status}, json", path, body_for(path, TINY_QUESTION), fault=fault)
        for kind in ("html", "empty"):
            fault = Fault.status(status, body=kind, retry_after=retry)
            yield from w.send(
                f"text-generation: status {status}, {kind}", TEXT, native_body(TINY_QUESTION), fault=fault
            )
    raw = Fault.status(502, body=b"upstream said no\n\xff")
    yield from w.send("text-generation: status 502, bytes", TEXT, native_body(TINY_QUESTION), fault=raw)
    # A status with no standard phrase: its page's title and its message fall back on the number.
    for kind in ("json", "html"):
        odd = Fault.status(599, "Odd.Code", body=kind)
        yield from w.send(f"text-generation: status 599, {kind}", TEXT, native_body(TINY_QUESTION), fault=odd)
    for status in (403, 404, 502, 504, 418, 451, 599):
        yield from w.send(
            f"text-generation: status {status}, default code",
            TEXT,
            native_body(TINY_QUESTION),
            fault=Fault.status(status),
        )
    yield from w.send("chat: status 599, default code", CHAT, chat_body(TINY_QUESTION), fault=Fault.status(599))
    for code in ("Throttling", "DataInspectionFailed", "Arrearage", "AccessDenied.Unpurchased", "Custom.Code"):
        for path in (TEXT, CHAT):
            yield from w.send(
                f"{SHORT[path]}: status 400, code {code}",
                path,
                body_for(path, TINY_QUESTION),
                fault=Fault.status(400, code),
            )
    fault = Fault.status(429, "Throttling", "Slow down.", request_id="req-wire-fault", retry_after="1.5")
    for path in (TEXT, CHAT, RESPONSES):
        yield from w.send(
            f"{SHORT[path]}: status 429, code, message and request id", path, body_for(path, TINY_QUESTION), fault=fault
        )
    yield from w.send(
        "chat: a message carrying the help link already",
        CHAT,
        chat_body(TINY_QUESTION),
        fault=Fault.status(400, message="Bad. For details, see: https://help.aliyun.com/zh/model-studio/error-code"),
    )
    yield from w.send(
        "text-generation: status 500 before the key is checked",
        TEXT,
        native_body(TINY_QUESTION),
        fault=Fault.status(500),
        key=None,
    )
    yield from w.send("the model list: status 503", MODELS, method="GET", fault=Fault.status(503))
    yield from w.send("text-generation: content_type()", TEXT, native_body(TINY_QUESTION), fault=Fault.content_type())
    yield from w.send(
        "chat: content_type(application/json)",
        CHAT,
        chat_body(TINY_QUESTION),
        fault=Fault.content_type("application/json", b'{"ok":true}'),
    )
    yield from w.send("text-generation: empty_body()", TEXT, native_body(TINY_QUESTION), fault=Fault.empty_body())
    yield from w.send("responses: empty_body()", RESPONSES, responses_body(TINY_QUESTION), fault=Fault.empty_body())
    w.emu.set_conversation(None)


STREAM_FAULTS: tuple[tuple[Fault, tuple[str, ...]], ...] = (
    (Fault.drop(), ENDPOINTS),
    (Fault.drop(after_events=0), (TEXT,)),
    (Fault.drop(after_events=99), (CHAT,)),
    (Fault.truncate(), ENDPOINTS),
    (Fault.truncate(last=2), (CHAT, RESPONSES)),
    (Fault.error_event(), ENDPOINTS),
    (
        Fault.error_event(after_events=0, code="Throttling.RateQuota", message="Too fast.", status=429),
        (TEXT, CHAT, RESPONSES),
    ),
    (Fault.error_event(after_events=99), (TEXT, RESPONSES)),
    (Fault.malformed_json(), ENDPOINTS),
    (Fault.finish_reason(), ENDPOINTS),
    (Fault.finish_reason("content_filter"), (TEXT, CHAT, RESPONSES)),
    (Fault.line_endings(), (TEXT, CHAT, RESPONSES)),
    (Fault.line_endings("\r"), (TEXT, CHAT)),
    (Fault.line_endings("\n"), (TEXT,)),
    (Fault.keepalive(), (TEXT, CHAT)),
    (Fault.keepalive(every=3), (RESPONSES,)),
    (Fault.unknown_fields(), ENDPOINTS),
    (Fault.reasoning_summary(), (RESPONSES, TEXT)),
    (Fault.rate_limit_200(), ENDPOINTS),
    (Fault.rate_limit_200("Custom limit."), (CHAT, RESPONSES)),
    (Fault.rate_limit_200(streamed=True), (RESPONSES, TEXT)),
    (Fault.huge_line(size=64), (TEXT, CHAT, RESPONSES)),
    (Fault.huge_line(), (TEXT,)),
    # Timing faults send the bytes they would send without them: cheap spellings only (no waiting).
    (Fault.chunks([1, 2, 3]), (TEXT, CHAT)),
    (Fault.drip(interval=0.0, chunk=5), (RESPONSES,)),
    (Fault.stall(after_events=1, seconds=0.0), (CHAT,)),
    (Fault.stall(after_events=None, seconds=0.0), (TEXT,)),
)


def stream_faults(w: Wire) -> Iterator[str]:
    w.emu.set_conversation(TINY)
    for path in ENDPOINTS:
        yield from w.send(f"{SHORT[path]}: the small conversation, no fault", path, body_for(path, TINY_QUESTION))
    yield from w.send(
        "responses: the small conversation, not streamed", RESPONSES, responses_body(TINY_QUESTION, stream=None)
    )
    for fault, paths in STREAM_FAULTS:
        for path in paths:
            yield from w.send(f"{SHORT[path]}: {short_fault(fault)}", path, body_for(path, TINY_QUESTION), fault=fault)
    for line in ("comment", "field", "both", "none"):
        for spelling in ("event:error", "event: error"):
            fault = Fault.error_event(after_events=1, spelling=spelling, status_line=line)
            yield from w.send(
                f"text-generation: error_event {spelling!r}, status {line}",
                TEXT,
                native_body(TINY_QUESTION),
                fault=fault,
            )
    yield from w.send(
        "chat: error_event, a spelling only native frames use",
        CHAT,
        chat_body(TINY_QUESTION),
        fault=Fault.error_event(after_events=1, spelling="event: error", status_line="both"),
    )
    for path in (RESPONSES,):
        for fault in (
            Fault.finish_reason(),
            Fault.rate_limit_200("Custom limit."),
            Fault.rate_limit_200(streamed=True),
        ):
            yield from w.send(
                f"responses, not streamed: {short_fault(fault)}",
                path,
                responses_body(TINY_QUESTION, stream=None),
                fault=fault,
            )
    yield from w.send(
        "text-generation: a fault then none (one request each)",
        TEXT,
        native_body(TINY_QUESTION),
        fault=Fault.finish_reason(),
    )
    yield from w.send("text-generation: ... the next request", TEXT, native_body(TINY_QUESTION))
    w.emu.set_conversation(None)


def named_faults(w: Wire) -> Iterator[str]:
    yield "=== every named fault"
    for name in sorted(FAULT_NAMES):
        yield f"{name}: {short_fault(Fault.named(name))}"
    for name in ("400", "429", "503"):
        yield f"{name}: {short_fault(Fault.named(name))}"
    yield ""
    w.emu.set_conversation(TINY)
    # drip and stall wait (5 ms a piece, 60 s): their fields are above; their bytes are the plain stream's.
    skipped = {"drip", "stall"}
    responses_only = {"rate_limit_200", "rate_limit_200_stream", "reasoning_summary"}
    for name in [*sorted(FAULT_NAMES - skipped), "429", "502"]:
        path = RESPONSES if name in responses_only else TEXT
        question = f"{TINY_QUESTION} #fault={name}"
        yield from w.send(f"{SHORT[path]}: #fault={name}", path, body_for(path, question))
    yield from w.send(
        "chat: #fault=token_plan_quota_stream", CHAT, chat_body(f"{TINY_QUESTION} #fault=token_plan_quota_stream")
    )
    yield from w.send(
        "chat: a queued fault wins over the directive",
        CHAT,
        chat_body(f"{TINY_QUESTION} #fault=drop"),
        fault=Fault.finish_reason(),
    )
    yield from w.send(
        "chat: a directive on a request refused first",
        CHAT,
        chat_body(f"{TINY_QUESTION} #fault=500", enable_thinking=False),
    )
    w.emu.set_conversation(None)


def _waits(low: float, high: float) -> Callable[[Answered], Answered]:
    """A throttle's waits depend on the clock: checked to lie in (low, high], shown as the range."""

    def check(answer: Answered) -> Answered:
        headers = []
        for name, value in answer.headers:
            if name in ("retry-after", "x-ratelimit-reset-requests"):
                match = re.fullmatch(r"(\d+\.\d{3})(s?)", value)
                assert match, f"{name}: {value!r} is not seconds with 3 decimals"
                assert low < float(match.group(1)) <= high, f"{name}: {value} is not in ({low}, {high}]"
                value = f"<({low}, {high}]{match.group(2)}>"
            headers.append((name, value))
        return Answered(answer.status_line, headers, answer.body, answer.ending)

    return check


def throttling(c: Catalogue) -> Iterator[str]:
    plain = c.wire(rate_limit=0.001, conversation=TINY)
    yield from plain.send("rate_limit 0.001: the first request", TEXT, native_body(TINY_QUESTION))
    for path in (TEXT, CHAT, RESPONSES):
        yield from plain.send(
            f"rate_limit 0.001: then {SHORT[path]}", path, body_for(path, TINY_QUESTION), check=_waits(990, 1000)
        )
    yield from plain.send(
        "rate_limit 0.001: without a key, refused for the key (no token taken)", CHAT, chat_body(), key=None
    )
    yield f"=== rate_limit 0.001: throttled {plain.emu.throttled}"
    yield ""
    bucket = c.wire(rate_limit=0.001, rate_burst=2, rate_limit_headers="x-ratelimit", conversation=TINY)
    yield from bucket.send(
        "x-ratelimit, burst 2: the first request", CHAT, chat_body(TINY_QUESTION, include_usage=False)
    )
    yield from bucket.send("x-ratelimit, burst 2: the second", CHAT, chat_body(TINY_QUESTION, include_usage=False))
    yield from bucket.send("x-ratelimit, burst 2: the third", CHAT, chat_body(TINY_QUESTION), check=_waits(1990, 2000))
    quiet = c.wire(rate_limit=0.001, rate_limit_headers="none", conversation=TINY)
    yield from quiet.send("no wait headers: the first request", RESPONSES, responses_body(TINY_QUESTION, stream=None))
    yield from quiet.send("no wait headers: the second", RESPONSES, responses_body(TINY_QUESTION))


def replays(w: Wire) -> Iterator[str]:
    stream = b'data: {"replayed": 1}\n\ndata: {"replayed": 2}\n\ndata: [DONE]\n\n'
    native = b"id:1\ndata:{}\n\nid:2\ndata:{}\n\nid:3\ndata:{}\n\nid:4\ndata:{}"
    w.emu.set_conversation(None)
    yield from w.send("a replay on chat", CHAT, chat_body(OTHER_QUESTION), replay=stream)
    yield from w.send(
        "a replay with keepalive", TEXT, native_body(OTHER_QUESTION), replay=stream, fault=Fault.keepalive(every=2)
    )
    yield from w.send(
        "a replay with a drop, no end", TEXT, native_body(OTHER_QUESTION), replay=native, fault=Fault.drop()
    )
    yield from w.send("a replay without a key", TEXT, native_body(OTHER_QUESTION), replay=stream, key=None)


# --- the catalogue --------------------------------------------------------------------------------


def render() -> str:
    c = Catalogue()
    try:
        main = c.wire(refused_pairs=[("qwen-plus", "responses")])
        ws = c.wire(workspace_host=True)
        parts = [
            "# The emulator's wire catalogue: written by `python -m tests.emulator_wire --write`; do not edit",
            "# (tests/emulator_wire.py says why and what is normalised).",
            "",
            "== Conversations on every endpoint",
            *conversations(main),
            "== Refusals of bad requests",
            *refusals(main),
            "== Workspace hosts",
            *workspace(main, ws),
            "== Faults that answer instead of a stream",
            *answering_faults(main),
            "== Faults in the stream",
            *stream_faults(main),
            "== Named faults",
            *named_faults(main),
            "== Throttling",
            *throttling(c),
            "== Replays",
            *replays(main),
        ]
    finally:
        c.close()
    text = "\n".join(parts) + "\n"
    if KEY in text:
        raise AssertionError("the key shows in the wire catalogue")
    return text


def main(argv: list[str] | None = None) -> int:
    return catalogue_main("tests.emulator_wire", PATH, render, argv)


if __name__ == "__main__":
    sys.exit(main())
