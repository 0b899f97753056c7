"""The ``qwen-ci`` command line.

``qwen-ci ask "QUESTION"`` streams the stages live on stderr (a status line while thinking, the
code as it runs, the reasoning with ``--show-reasoning``) and prints the result on stdout: the
answer, the code that ran, usage. ``--json`` prints the result dict instead. On a terminal with
the ``[cli]`` extra (``rich``) the status is a spinner with the elapsed time, the code is
highlighted and the result is rendered Markdown; piped, or without ``rich``, it is plain text
(see :mod:`qwen_ci_tool._live`).

Exit codes: 0 completed, 1 the service or the network failed, 2 bad usage or configuration,
3 the answer is incomplete (e.g. a length limit), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any

from . import _constants as C
from ._batch_cli import read_tasks, run_batch
from ._client import AsyncCodeInterpreter, CodeInterpreter, CodeInterpreterStream
from ._config import resolve_settings
from ._errors import missing_key_error
from ._exceptions import ConfigurationError, QwenCIError
from ._explain import error_dict, for_person, incomplete_note
from ._flags import add_setting_flags, settings_from
from ._knobs import CLI
from ._live import live_view, print_markdown
from ._model_table import MODELS, ordered
from ._render import result_markdown
from ._types import CodeInterpreterResult, Completed
from ._version import __version__

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _parser() -> argparse.ArgumentParser:
    def _add_emulator_flag(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--emulator",
            action="store_true",
            help="answer from the local emulator: no key, no network, scripted answers",
        )

    parser = argparse.ArgumentParser(
        prog="qwen-ci",
        description="Ask Qwen with its built-in code interpreter, and get one complete result.",
    )
    parser.add_argument("--version", action="version", version=f"qwen-ci-tool {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = sub.add_parser("ask", help="ask a question; stages stream live, the result is printed at the end")
    ask.add_argument(
        "question", help='the task, in words (e.g. "What is 123 to the power of 21?"); - reads it from standard input'
    )
    ask.add_argument("--json", action="store_true", help="print the result (or the error) as JSON on stdout")
    ask.add_argument(
        "--show-reasoning", action="store_true", help="stream the model's reasoning and include it in the result"
    )
    add_setting_flags(ask)
    ask.add_argument("--record", metavar="FILE", help="save the raw event stream (no headers, no key) for replay")
    ask.add_argument(
        "--export",
        metavar="FILE",
        help="also write the run to FILE: .py (a script of the code runs), .ipynb (a notebook) or .md; "
        "written for a partial result too",
    )
    _add_emulator_flag(ask)

    batch = sub.add_parser(
        "batch",
        help="run many tasks from a JSONL file; each result is appended to OUTPUT as it finishes; run again to resume",
    )
    batch.add_argument(
        "input", metavar="INPUT.jsonl", help='one task per line: {"id": "q1", "question": "..."} (or "messages")'
    )
    batch.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT.jsonl",
        required=True,
        help="results, one line per task; ids completed here are not sent again",
    )
    batch.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        default=C.DEFAULT_BATCH_CONCURRENCY,
        help=f"calls at once at most; fewer while the service rate-limits (default {C.DEFAULT_BATCH_CONCURRENCY})",
    )
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help="send again the tasks whose earlier failure is retryable (others are kept as they are)",
    )
    add_setting_flags(batch)
    _add_emulator_flag(batch)

    emu = sub.add_parser("emulator", help="serve the local DashScope emulator until Ctrl-C")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8765)
    emu.add_argument("--pace", type=float, default=0.0, help="seconds between events")
    emu.add_argument("--code-pause", type=float, default=0.0, help="silence while a code run 'executes'")
    emu.add_argument(
        "--api-key", help="accept only this key (default: any non-empty key); read from QWEN_CI_EMULATOR_KEY too"
    )
    emu.add_argument("--rate-limit", type=float, help="answer 429 with Retry-After above this many requests per second")

    sub.add_parser("models", help="list the models the tool knows, with their protocols")

    doctor = sub.add_parser(
        "doctor",
        help="check the set-up a call needs (key, region, endpoint, model), each with its fix; costs no tokens",
    )
    add_setting_flags(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    return parser


@contextlib.contextmanager
def _maybe_emulator(enabled: bool) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    from .testing import Emulator

    # A little pacing so a person sees the stages go by; still about a second in all.
    with Emulator(pace=0.01, code_pause=0.4) as emu:
        yield emu.base_url


def _print_result(result: CodeInterpreterResult, args: argparse.Namespace, stdout: IO[str]) -> None:
    if args.json:
        stdout.write(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
        stdout.flush()
    else:
        print_markdown(result_markdown(result, include_reasoning=args.show_reasoning), stdout)


_EXPORTS = (".py", ".ipynb", ".md")


def _export(result: CodeInterpreterResult, path: str, stderr: IO[str]) -> None:
    if path.endswith(".py"):
        text = result.to_script()
    elif path.endswith(".ipynb"):
        text = json.dumps(result.to_notebook(), ensure_ascii=False, indent=1) + "\n"
    else:
        text = result.to_markdown(include_reasoning=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
    stderr.write(f"Wrote {path}.\n")


def _ask(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if args.export and not args.export.endswith(_EXPORTS):
        raise ConfigurationError(f"--export writes {', '.join(_EXPORTS)} files; got {args.export!r}.")
    settings = settings_from(args)
    with _maybe_emulator(args.emulator) as emulator_url:
        if emulator_url is not None:
            settings["base_url"] = emulator_url
            settings["api_key"] = "sk-emulator"
            stderr.write(
                "Using the local emulator (no DASHSCOPE_API_KEY needed): its answers are recorded "
                "or scripted, not computed. Set DASHSCOPE_API_KEY and drop --emulator for the real service.\n"
            )
        client = CodeInterpreter(**settings)
        live = live_view(stderr, show_reasoning=args.show_reasoning)
        record = open(args.record, "wb") if args.record else None  # noqa: SIM115 - closed below
        stream: CodeInterpreterStream | None = None
        try:
            # stream() checks the key and the question before anything is sent or announced.
            with client, client.stream(args.question, record=record) as stream:
                if emulator_url is None:
                    live.note(
                        f"Asking {client.model} at {client.base_url} over the {client.protocol} protocol "
                        "(the code runs remotely; this can take a while)..."
                    )
                for event in stream:
                    live.event(event)
                    if isinstance(event, Completed):
                        break
                result = stream.get_final_result()
        except QwenCIError as err:
            live.close()
            _keep_partial(err.partial, "the failure", args, stdout, stderr)
            return _report_error(err, args, stdout, stderr)
        except KeyboardInterrupt:
            # Ctrl-C: the connection is closed (leaving the with block did it); what arrived is kept.
            live.close()
            _keep_partial(stream.snapshot() if stream is not None else None, "Ctrl-C", args, stdout, stderr)
            stderr.write("\ninterrupted\n")
            return EXIT_INTERRUPTED
        finally:
            live.close()
            if record is not None:
                record.close()
    _print_result(result, args, stdout)
    if args.export:
        _export(result, args.export, stderr)
    if result.status != "completed":
        stderr.write(f"warning: {incomplete_note(result)}\n")
        return EXIT_INCOMPLETE
    if not args.json:
        stderr.write(f"Done in {result.timings.total_time:.1f} s.\n")
    return EXIT_OK


def _arrived(partial: CodeInterpreterResult | None) -> bool:
    return partial is not None and bool(partial.answer or partial.code_runs or partial.reasoning)


def _keep_partial(
    partial: CodeInterpreterResult | None, before: str, args: argparse.Namespace, stdout: IO[str], stderr: IO[str]
) -> None:
    """After a failure or Ctrl-C: print what arrived (not with --json: the error payload has it)
    and write it to --export."""
    if partial is None or not _arrived(partial):
        return
    if not args.json:
        stdout.write(f"What arrived before {before} (incomplete):\n\n")
        print_markdown(result_markdown(partial, include_reasoning=args.show_reasoning), stdout)
    if args.export:
        _export(partial, args.export, stderr)


def _batch(args: argparse.Namespace, stderr: IO[str]) -> int:
    with open(args.input, encoding="utf-8", errors="surrogateescape") as file:
        tasks = read_tasks(file, args.input)  # every problem, by line, before anything is sent
    settings = settings_from(args)
    with _maybe_emulator(args.emulator) as emulator_url:
        if emulator_url is not None:
            settings["base_url"] = emulator_url
            settings["api_key"] = "sk-emulator"
        client = AsyncCodeInterpreter(**settings)
        if client.settings.api_key is None:
            raise missing_key_error()
        announce = "to the local emulator" if emulator_url is not None else f"to {client.model} at {client.base_url}"
        return run_batch(
            client,
            tasks,
            args.output,
            retry_failed=args.retry_failed,
            concurrency=args.concurrency,
            stderr=stderr,
            announce=announce,
        )


def _report_error(err: QwenCIError, args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    code = EXIT_USAGE if isinstance(err, ConfigurationError) else EXIT_FAILED
    if args.json:
        payload: dict[str, Any] = {
            "error": error_dict(err, CLI),
            "partial": err.partial.to_dict() if err.partial is not None else None,
        }
        stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return code
    stderr.write(f"error: {for_person(err, CLI)}\n")
    return code


def _models(stdout: IO[str]) -> int:
    stdout.write(f"{'model (or family*)':24} {'documented over':40} {'native path':22} note\n")
    disagreements: dict[str, list[str]] = {}
    for row in MODELS:
        shown = ", ".join(ordered(row.protocols))
        if row.disputed:
            shown += f" (disputed: {', '.join(ordered(row.disputed))})"
            disagreements.setdefault(row.disagreement, []).append(row.pattern)
        stdout.write(f"{row.pattern:24} {shown:40} {row.native_endpoint:22} {row.note}\n")
    if disagreements:
        stdout.write("\nWhere the vendor's documents disagree:\n")
        for why, patterns in disagreements.items():
            stdout.write(f"  {', '.join(patterns)}: {why}.\n")
    stdout.write(
        "\nThe table advises, it never refuses: every model and protocol pair is sent as asked and the "
        "service decides; when it refuses, the error names the protocol the documents show. Other "
        "names are sent unchanged.\n"
    )
    return EXIT_OK


def _doctor(args: argparse.Namespace, stdout: IO[str]) -> int:
    import httpx

    from ._client import _ssl_context
    from ._doctor import diagnose, failed, report, to_json
    from ._proxy import new_client

    settings = resolve_settings(**settings_from(args))
    with new_client(httpx.Client, verify=_ssl_context()) as client:
        checks = diagnose(settings, client)
    stdout.write(to_json(checks) + "\n" if args.json else report(checks, settings))
    stdout.flush()
    return EXIT_FAILED if failed(checks) else EXIT_OK


def _serve_emulator(args: argparse.Namespace, stderr: IO[str]) -> int:
    from .testing import Emulator

    key = args.api_key or os.environ.get("QWEN_CI_EMULATOR_KEY") or None

    def ready(url: str) -> None:
        which = "only the key given" if key else "any key"
        stderr.write(
            f"Emulator serving on {url} - use it as base_url ({which}), e.g.\n"
            f"  qwen-ci ask --base-url {url} ...  (with DASHSCOPE_API_KEY={'<that key>' if key else 'sk-anything'})\n"
            "Ctrl-C stops it.\n"
        )
        stderr.flush()

    Emulator.serve_forever(
        args.host,
        args.port,
        ready=ready,
        pace=args.pace,
        code_pause=args.code_pause,
        rate_limit=args.rate_limit,
        api_key=key,
    )
    return EXIT_OK


def _read_stdin(stdin: IO[str] | None) -> str:
    if stdin is not None:
        return stdin.read()
    # Bytes that are not UTF-8 become lone surrogates here, which the core refuses with a clear
    # error (instead of a UnicodeDecodeError traceback from the text layer).
    return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        if args.command == "ask":
            if args.question == "-":  # a long task with its data: `qwen-ci ask - < task.txt`
                args.question = _read_stdin(stdin)
            return _ask(args, stdout, stderr)
        if args.command == "batch":
            return _batch(args, stderr)
        if args.command == "models":
            return _models(stdout)
        if args.command == "doctor":
            return _doctor(args, stdout)
        return _serve_emulator(args, stderr)
    except ConfigurationError as err:
        stderr.write(f"error: {for_person(err, CLI)}\n")
        return EXIT_USAGE
    except OSError as err:
        # e.g. --record to a directory that does not exist, or a port in use.
        stderr.write(f"error: {err.strerror or err}: {err.filename or ''}\n".replace(": \n", "\n"))
        return EXIT_USAGE
    except KeyboardInterrupt:
        stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
