"""``qwen-ci ask "QUESTION"``: one call, its stages live on stderr, the result on stdout.

The stages stream live on stderr (a status line while thinking, the code as it runs, the
reasoning with ``--show-reasoning``, see :mod:`qwen_ci_tool.cli.view`); the result is printed on
stdout: the answer, the code that ran, usage. ``--json`` prints the result dict (or the error)
instead; ``--export`` also writes the run as a script, a notebook or Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import IO, Any

from .._batch import Interrupted
from .._client import CodeInterpreter, CodeInterpreterStream
from .._exceptions import ConfigurationError, QwenCIError
from .._explain import error_dict, incomplete_note
from .._result import CodeInterpreterResult, Completed, result_markdown
from .common import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, for_person, maybe_emulator
from .flags import CLI, settings_from
from .view import live_view, print_markdown

__all__ = ["ask"]


def _markdown(result: CodeInterpreterResult, args: argparse.Namespace) -> str:
    # Not on every run: that the protocol returns no output is said by --json (null) and --export.
    return result_markdown(result, include_reasoning=args.show_reasoning, note_missing_output=False)


def _print_result(result: CodeInterpreterResult, args: argparse.Namespace, stdout: IO[str]) -> None:
    if args.json:
        stdout.write(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n")
        stdout.flush()
    else:
        print_markdown(_markdown(result, args), stdout)


_EXPORTS = (".py", ".ipynb", ".md")


class _Recording:
    """``--record FILE``: the raw stream, written unbuffered as it arrives. A write that fails (a full
    disk) stops the recording, not the call: ``error`` says why, reported once the call has ended."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.error: OSError | None = None
        self._file: IO[bytes] | None = open(path, "wb", buffering=0)  # noqa: SIM115 - closed by close()

    def write(self, data: bytes) -> None:
        if self._file is None:
            return
        view = memoryview(data)
        try:
            while view:  # an unbuffered write may take only part (a disk nearly full)
                view = view[self._file.write(view) or 0 :]
        except OSError as err:
            self.error = err
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


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


def ask(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if args.export and not args.export.endswith(_EXPORTS):
        raise ConfigurationError(f"--export writes {', '.join(_EXPORTS)} files; got {args.export!r}.")
    if args.export and (os.path.isdir(args.export) or not os.path.isdir(os.path.dirname(args.export) or ".")):
        # Checked before asking: the call is billed, and its export would fail only after it.
        raise ConfigurationError(
            f"--export {args.export}: "
            + ("that is a directory" if os.path.isdir(args.export) else "its directory does not exist")
            + "; give a file in an existing directory. Nothing was sent."
        )
    settings = settings_from(args)
    replaying: bytes | None = getattr(args, "replay", None)  # `qwen-ci replay FILE` (cli/replay.py)
    with maybe_emulator(args.emulator, settings, replay=replaying) as emulator_url:
        if emulator_url is not None:
            settings["base_url"] = emulator_url
            settings["api_key"] = "sk-emulator"
            stderr.write(
                f"Replaying {args.file} through the local emulator (no key, no network).\n"
                if replaying is not None
                else "Using the local emulator (no DASHSCOPE_API_KEY needed): its answers are recorded "
                "or scripted, not computed. Set DASHSCOPE_API_KEY and drop --emulator for the real service.\n"
            )
        client = CodeInterpreter(**settings)
        live = live_view(stderr, show_reasoning=args.show_reasoning)
        record = _Recording(args.record) if args.record else None
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
            partial = stream.snapshot() if stream is not None else None
            _keep_partial(partial, "Ctrl-C", args, stdout, stderr)
            if args.json:
                request_id = partial.request_id if partial is not None else None
                _print_error_json(Interrupted(INTERRUPTED_MESSAGE, request_id=request_id), partial, stdout)
            stderr.write("\ninterrupted\n")
            return EXIT_INTERRUPTED
        finally:
            live.close()
            if record is not None:
                record.close()
                if record.error is not None:
                    stderr.write(
                        f"error: could not write the recording to {record.path} ({record.error.strerror or record.error}):"
                        " it is incomplete; the call itself went on.\n"
                    )
    try:
        _print_result(result, args, stdout)
    finally:  # standard output may be full or closed: the export still keeps the result
        if args.export:
            _export(result, args.export, stderr)
    if record is not None and record.error is not None:
        return EXIT_USAGE
    if result.status != "completed":
        stderr.write(f"warning: {incomplete_note(result)}\n")
        return EXIT_INCOMPLETE
    if not args.json:
        stderr.write(f"Done in {result.timings.total_time:.1f} s.\n")
    return EXIT_OK


def _arrived(partial: CodeInterpreterResult) -> bool:
    return bool(partial.answer or partial.code_runs or partial.reasoning)


INTERRUPTED_MESSAGE = (
    "Interrupted (Ctrl-C) while the call ran: the connection was closed; `partial` holds what had arrived "
    "and the tokens it cost. Running the command again sends the question again (billed again)."
)


def _keep_partial(
    partial: CodeInterpreterResult | None, before: str, args: argparse.Namespace, stdout: IO[str], stderr: IO[str]
) -> None:
    """After a failure or Ctrl-C: print what arrived (not with --json: the error payload's ``partial``
    has it) and write it to --export."""
    if partial is None or not _arrived(partial):
        return
    if not args.json:
        stdout.write(f"What arrived before {before} (incomplete):\n\n")
        print_markdown(_markdown(partial, args), stdout)
    if args.export:
        _export(partial, args.export, stderr)


def _print_error_json(err: QwenCIError, partial: CodeInterpreterResult | None, stdout: IO[str]) -> None:
    """``--json`` after a failure or Ctrl-C: the error and what had arrived (``partial``, or null)."""
    payload: dict[str, Any] = {
        "error": error_dict(err, CLI),
        "partial": partial.to_dict() if partial is not None else None,
    }
    stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def _report_error(err: QwenCIError, args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    code = EXIT_USAGE if isinstance(err, ConfigurationError) else EXIT_FAILED
    if args.json:
        _print_error_json(err, err.partial, stdout)
        return code
    stderr.write(f"error: {for_person(err, CLI)}\n")
    return code
