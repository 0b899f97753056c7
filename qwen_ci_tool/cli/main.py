"""The ``qwen-ci`` command line.

``qwen-ci ask "QUESTION"`` streams the stages live on stderr (a status line while thinking, the
code as it runs, the reasoning with ``--show-reasoning``) and prints the result on stdout: the
answer, the code that ran, usage. ``--json`` prints the result dict instead. On a terminal with
the ``[cli]`` extra (``rich``) the status is a spinner with the elapsed time, the code is
highlighted and the result is rendered Markdown; piped, or without ``rich``, it is plain text
(see :mod:`qwen_ci_tool.cli.view`). Each command has its module: :mod:`~qwen_ci_tool.cli.ask`,
:mod:`~qwen_ci_tool.cli.batch`, :mod:`~qwen_ci_tool.cli.doctor`; this one parses and dispatches.

Exit codes (:mod:`qwen_ci_tool.cli.common`): 0 completed, 1 the service or the network failed, 2 bad usage or configuration,
3 the answer is incomplete (e.g. a length limit), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, cast

from .. import _constants as C
from .._config import PROTOCOL_NAMES
from .._exceptions import ConfigurationError
from .._model_table import MODELS, ordered
from .._version import __version__
from .ask import ask
from .batch import batch
from .common import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, GuardedOutput, OutputError, detach, for_person, output_lost
from .doctor import doctor
from .flags import CLI, add_setting_flags
from .replay import replay

__all__ = ["main"]


def _file_name(value: str) -> str:
    """A FILE argument: an empty one (an unset shell variable) is refused, not read as "no file"."""
    if not value:
        raise argparse.ArgumentTypeError("expected a file name, got an empty string")
    return value


def _side_file(value: str) -> str:
    """A FILE written beside the answer (``--record``, ``--export``): ``-`` would be a file named "-", not
    standard output (where the answer goes), so it is refused too."""
    if _file_name(value) == "-":
        raise argparse.ArgumentTypeError("expected a file name, got '-' (the answer goes to standard output)")
    return value


def _parser() -> argparse.ArgumentParser:
    def _add_emulator_flag(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--emulator",
            action="store_true",
            help="answer from the local emulator: no key, no network, scripted answers",
        )

    def _add_result_flags(command: argparse.ArgumentParser) -> None:
        """How a call's result is shown: the same for a call (ask) and a recorded one (replay)."""
        command.add_argument("--json", action="store_true", help="print the result (or the error) as JSON on stdout")
        command.add_argument(
            "--show-reasoning", action="store_true", help="stream the model's reasoning and include it in the result"
        )
        command.add_argument(
            "--export",
            metavar="FILE",
            type=_side_file,
            help="also write the run to FILE: .py (a script of the code runs), .ipynb (a notebook) or .md; "
            "written for a partial result too",
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
    _add_result_flags(ask)
    add_setting_flags(ask)
    ask.add_argument(
        "--record", metavar="FILE", type=_side_file, help="save the raw event stream (no headers, no key) for replay"
    )
    _add_emulator_flag(ask)

    batch = sub.add_parser(
        "batch",
        help="run many tasks from a JSONL file; each result is appended to OUTPUT as it finishes; run again to resume",
    )
    batch.add_argument(
        "input",
        metavar="INPUT.jsonl",
        type=_file_name,
        help='one task per line: {"id": "q1", "question": "..."} (or "messages")',
    )
    batch.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT.jsonl",
        type=_file_name,
        required=True,
        help="results, one line per task; ids completed here are not sent again",
    )
    batch.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        default=C.DEFAULT_BATCH_CONCURRENCY,
        help=f"calls at once at most (default {C.DEFAULT_BATCH_CONCURRENCY}); starts are paced below the service's "
        "rate limit as it is learnt from its 429s",
    )
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help="send again the tasks whose earlier failure is retryable (others are kept as they are)",
    )
    add_setting_flags(batch)
    _add_emulator_flag(batch)

    replay = sub.add_parser(
        "replay",
        help="show a stream saved by `ask --record FILE` again, as ask showed it: no key, no network",
        description="Replay a stream saved by `qwen-ci ask --record FILE`: the stages, the result, --json and "
        "--export as the call gave them, through the local emulator (no key, no network).",
    )
    replay.add_argument("file", metavar="FILE", type=_file_name, help="the .sse file `ask --record` wrote")
    _add_result_flags(replay)
    replay.add_argument(
        "--protocol",
        choices=PROTOCOL_NAMES,
        help="the protocol the stream was recorded over (default: recognised from the stream)",
    )

    emu = sub.add_parser(
        "emulator",
        help="serve the local DashScope emulator until Ctrl-C",
        description="Serve the local emulator of the DashScope endpoints (native, Chat Completions, Responses) "
        "until Ctrl-C: the seed conversations, scripted answers for other questions; no network.",
    )
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    emu.add_argument(
        "--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default %(default)s)"
    )
    emu.add_argument(
        "--pace",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause between events, to watch the stages go by (default %(default)s: no pause)",
    )
    emu.add_argument(
        "--code-pause",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="silence after the code of a run arrives, as while the sandbox executes it (default %(default)s)",
    )
    emu.add_argument(
        "--api-key",
        help="accept only this key, also read from QWEN_CI_EMULATOR_KEY (default: any non-empty key)",
    )
    emu.add_argument(
        "--rate-limit",
        type=float,
        metavar="N",
        help="answer 429 with Retry-After above N call starts per second, as a throttled account gets; evenly "
        "spaced unless --rate-burst (default: no limit)",
    )
    emu.add_argument(
        "--rate-burst",
        type=float,
        default=1.0,
        metavar="N",
        help="starts allowed back to back within --rate-limit (default %(default)s: evenly spaced)",
    )
    emu.add_argument(
        "--call-seconds",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="make each call last this long: its last event comes then (default %(default)s)",
    )

    models = sub.add_parser("models", help="list the models the tool knows, with their protocols")
    models.add_argument("--json", action="store_true", help="print the table as JSON (a list of objects)")

    doctor = sub.add_parser(
        "doctor",
        help="check the set-up a call needs (key, region, endpoint, model), each with its fix; costs no tokens",
    )
    add_setting_flags(doctor)
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    return parser


def _models(args: argparse.Namespace, stdout: IO[str]) -> int:
    if args.json:
        rows = [
            {
                "model": row.pattern,
                "protocols": ordered(row.protocols),
                "disputed": ordered(row.disputed),
                "disagreement": row.disagreement or None,
                "native_endpoint": row.native_endpoint,
                "note": row.note,
            }
            for row in MODELS
        ]
        stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
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


def _serve_emulator(args: argparse.Namespace, stderr: IO[str]) -> int:
    from ..testing import Emulator

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
        rate_burst=args.rate_burst,
        call_seconds=args.call_seconds,
        api_key=key,
    )
    return EXIT_OK


def _read_stdin(stdin: IO[str] | None) -> str:
    # Bytes that are not UTF-8 become lone surrogates here, which the core refuses with a clear
    # error (instead of a UnicodeDecodeError traceback from the text layer).
    text = stdin.read() if stdin is not None else sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    return text.removeprefix("\ufeff")  # a byte-order mark (Notepad, PowerShell) is not part of the task


def _command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str], stdin: IO[str] | None) -> int:
    if args.command == "ask":
        if args.question == "-":  # a long task with its data: `qwen-ci ask - < task.txt`
            args.question = _read_stdin(stdin)
        return ask(args, stdout, stderr)
    if args.command == "batch":
        return batch(args, stdout, stderr)
    if args.command == "models":
        return _models(args, stdout)
    if args.command == "replay":
        return replay(args, stdout, stderr)
    if args.command == "doctor":
        return doctor(args, stdout)
    return _serve_emulator(args, stderr)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; one the command does not take is refused with that command's usage, not the top-level one."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    stream = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = _parse(argv)
    out = GuardedOutput(stream)
    try:
        code = _command(args, cast(IO[str], out), stderr, stdin)
        if out.error is None:
            out.flush()  # what is still buffered fails here, not unreported at exit
        else:
            detach(stream)  # the command reported it (batch -o -)
        return code
    except OutputError as err:
        stderr.write(output_lost(err, args.command))
        detach(stream)
        return EXIT_USAGE
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
