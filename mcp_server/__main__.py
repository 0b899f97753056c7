"""``qwen-ci-mcp`` / ``python -m mcp_server``: serve the tool over stdio (default) or streamable HTTP.

Invalid settings end the process before it serves, with one line on stderr and exit code 2.
Nothing is ever written to stdout: over stdio, stdout is the protocol channel.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import sys
from collections.abc import Sequence

from qwen_ci_tool import ConfigurationError, __version__
from qwen_ci_tool import _constants as C
from qwen_ci_tool._config import SETTINGS, resolve_settings
from qwen_ci_tool._knobs import Knobs
from qwen_ci_tool.cli.common import trial_pacing
from qwen_ci_tool.cli.flags import CLI, add_setting_flags, settings_from

from . import _extra_not_found, _missing_extra
from ._constants import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_OUTPUT_CHARS,
    DEFAULT_MAX_WAIT,
    DEFAULT_SHUTDOWN_GRACE,
    RESULT_TOOL_NAME,
    TOOL_NAME,
)
from ._logs import LOG_FORMATS, Redactor, configure_logging
from .http.auth import AUTH_TOKEN_ENV, AUTH_TOKEN_FILE_ENV, MIN_TOKEN_CHARS, Credentials, TokenFileError, is_loopback
from .runs import DEFAULT_RESULT_TTL, MEMORY, RUN_STORE_ENV, shown_url
from .runs.deadline import MAX_RESERVE

# The MCP SDK is imported only to serve (_serve): --help, --version and a refused flag answer without it.
# Run without the [mcp] extra (even for --help): one line that says what to install, not a traceback.
if (_message := _extra_not_found()) is not None:
    sys.stderr.write(f"qwen-ci-mcp: error: {_message}\n")
    sys.exit(2)

__all__ = ["build_parser", "main"]

#: The console scripts that start this server (pyproject.toml): its messages use the name it was started by.
SCRIPTS = ("qwen-ci-mcp", "qwen-ci-tool")


def _prog() -> str:
    name = os.path.basename(sys.argv[0] if sys.argv else "").removesuffix(".exe")
    return name if name in SCRIPTS else SCRIPTS[0]


logger = logging.getLogger("mcp_server")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=_prog(),
        description=(
            f"MCP server with one tool, {TOOL_NAME}: Qwen's code interpreter on Alibaba Cloud Model Studio "
            f"(DashScope). The API key is read from {C.ENV_API_KEY}."
        ),
        epilog=(
            f"MCP clients start servers with an almost empty environment: put {C.ENV_API_KEY} in the "
            'client config\'s "env" block.'
        ),
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "--emulator",
        action="store_true",
        help="a keyless trial: serve the tool on the built-in emulator of the service (no key, no network; "
        "scripted answers, not computed)",
    )
    net = p.add_argument_group("transport")
    net.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio", help="default: stdio")
    net.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1; others need a token)")
    net.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    net.add_argument(
        "--auth-token",
        help=f"bearer token HTTP clients must send (or set {AUTH_TOKEN_ENV}; the variable keeps it out of `ps`)",
    )
    net.add_argument(
        "--auth-token-file",
        metavar="PATH",
        help=f"file of 'name:token' lines, one per client (or set {AUTH_TOKEN_FILE_ENV}); the name labels logs "
        "and metrics; re-read on SIGHUP",
    )
    net.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="extra Host header value to accept when bound beyond loopback (repeatable)",
    )
    add_setting_flags(p.add_argument_group("Qwen / DashScope"))
    lim = p.add_argument_group("limits")
    lim.add_argument(
        "--max-concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        help=f"upstream calls at once; more wait (default {DEFAULT_MAX_CONCURRENCY})",
    )
    lim.add_argument(
        "--max-output-chars",
        type=int,
        default=DEFAULT_MAX_OUTPUT_CHARS,
        help=f"cap on the characters a result returns, its text and structuredContent together "
        f"(default {DEFAULT_MAX_OUTPUT_CHARS})",
    )
    runs = p.add_argument_group("long calls")
    runs.add_argument(
        "--max-wait",
        type=float,
        default=DEFAULT_MAX_WAIT,
        metavar="SECONDS",
        help=f"hold a call at most this long, then answer with a run_id for {RESULT_TOOL_NAME} "
        f"(default {DEFAULT_MAX_WAIT:g}; 0 = hold every call to its end)",
    )
    runs.add_argument(
        "--result-ttl",
        type=float,
        default=DEFAULT_RESULT_TTL,
        metavar="SECONDS",
        help=f"keep a finished run's result this long for {RESULT_TOOL_NAME} (default {DEFAULT_RESULT_TTL:g})",
    )
    runs.add_argument(
        "--run-store",
        metavar="URL",
        help=f"where runs are kept: '{MEMORY}' (this process, the default) or redis://HOST:PORT/DB "
        f"(rediss:// for TLS) shared by every replica, so any replica answers {RESULT_TOOL_NAME} and "
        f"routes cancels (or set {RUN_STORE_ENV})",
    )
    runs.add_argument(
        "--shutdown-grace",
        type=float,
        default=DEFAULT_SHUTDOWN_GRACE,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT (or end of input over stdio): refuse new calls, let calls in flight finish, "
        "cancel the rest with their partial results, deliver and exit, all within this long (calls get it "
        f"less a quarter, at most {MAX_RESERVE:g} s, for the rest) (default {DEFAULT_SHUTDOWN_GRACE:g})",
    )
    p.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="stderr log level"
    )
    p.add_argument(
        "--log-format", default="text", choices=LOG_FORMATS, help="stderr lines: text, or one JSON object a line"
    )
    return p


def _fail(message: str) -> int:
    sys.stderr.write(f"{_prog()}: error: {message}\n")
    sys.stderr.flush()
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.emulator:
        return _serve(args)
    try:
        pace, code_pause = trial_pacing()  # so that a person sees the stages go by (progress, the code pause)
    except ConfigurationError as err:
        return _fail(str(err))
    from qwen_ci_tool.testing import Emulator

    with Emulator(pace=pace, code_pause=code_pause) as emulator:
        args.base_url = emulator.base_url
        # Any key opens the emulator; a real one set in the environment is never sent to it.
        os.environ[SETTINGS["api_key"].env] = os.environ[C.ENV_API_KEY] = "sk-emulator"
        return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    credentials: Credentials | None = None
    if args.transport == "streamable-http":
        try:
            credentials = _credentials(args)
        except ValueError as exc:  # a TokenFileError too
            return _fail(str(exc))
        if not is_loopback(args.host) and credentials is None:
            return _fail(
                f"refusing to listen on {args.host} without a bearer token: pass --auth-token or set "
                f"{AUTH_TOKEN_ENV}, or give a token file (--auth-token-file or {AUTH_TOKEN_FILE_ENV}) "
                "(or bind 127.0.0.1)."
            )
        if not 0 <= args.port <= 65535:
            return _fail(f"--port must be between 0 and 65535, got {args.port}.")
    try:
        key = resolve_settings().api_key
    except ConfigurationError:
        key = None  # create_server below reports the bad key; nothing to mask
    redact = Redactor(
        [key.get_secret_value()] if key is not None else [],
        credentials.secrets if credentials is not None else None,
    )
    try:
        from ._ops import ContextFilter
        from ._server import create_server
        from .http.app import ListenError
    except ModuleNotFoundError as exc:  # a module of the extra that _extra_not_found does not look for
        if (message := _missing_extra(exc)) is None:
            raise
        return _fail(message)
    configure_logging(args.log_level, args.log_format, redact, ContextFilter())
    try:
        server = create_server(
            **settings_from(args),
            max_concurrency=args.max_concurrency,
            max_output_chars=args.max_output_chars,
            max_wait=args.max_wait,
            result_ttl=args.result_ttl,
            run_store=_run_store(args),
            log_level=args.log_level,
        )
    except ConfigurationError as exc:
        return _fail(exc.describe(_knobs(args)))
    if not 0 <= args.shutdown_grace < math.inf:  # nan and inf too: a drain that never ends is a hung pod
        return _fail(f"--shutdown-grace must be a finite number of seconds >= 0, got {args.shutdown_grace}.")
    _log_start(args)

    import anyio

    try:
        if args.transport == "stdio":
            from ._stdio import serve_stdio

            anyio.run(lambda: serve_stdio(server, shutdown_grace=args.shutdown_grace))
        else:
            from .http.app import serve_http

            anyio.run(
                lambda: serve_http(
                    server,
                    host=args.host,
                    port=args.port,
                    credentials=credentials,
                    allowed_hosts=args.allowed_host,
                    log_level="warning" if args.log_level != "DEBUG" else "info",
                    shutdown_grace=args.shutdown_grace,
                )
            )
    except KeyboardInterrupt:
        return 130
    except ListenError as exc:  # a taken port: one line with the fix, exit 2 like other bad settings
        return _fail(str(exc))
    return 0


def _credentials(args: argparse.Namespace) -> Credentials | None:
    """The HTTP bearer tokens: one shared token or a token file (not both), or none."""
    token = args.auth_token if args.auth_token is not None else os.environ.get(AUTH_TOKEN_ENV)
    token = token.strip() if token else None
    path = args.auth_token_file if args.auth_token_file is not None else os.environ.get(AUTH_TOKEN_FILE_ENV)
    if token and path:
        raise ValueError(
            f"give one shared token (--auth-token / {AUTH_TOKEN_ENV}) or a token file "
            f"(--auth-token-file / {AUTH_TOKEN_FILE_ENV}), not both; add the shared token to the file as 'name:token'."
        )
    if path:
        try:
            return Credentials.from_file(path)
        except TokenFileError as exc:
            raise ValueError(str(exc)) from None
    if token is not None and (not token.isascii() or not token.isprintable() or " " in token):
        raise ValueError("the auth token must be printable ASCII without spaces.")
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(
            f"the auth token is shorter than {MIN_TOKEN_CHARS} characters; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return Credentials.single(token) if token else None


def _knobs(args: argparse.Namespace) -> Knobs:
    """How a refused setting is named: its flag, or QWEN_CI_MCP_RUN_STORE when the run store came from there."""
    if args.run_store or not os.environ.get(RUN_STORE_ENV):
        return CLI

    def setting(name: str, value: str) -> str:  # Knobs always passes the value ("" for none)
        if name != "run_store":
            return CLI.setting(name, value)
        return f"{RUN_STORE_ENV}={value}" if value else RUN_STORE_ENV

    return dataclasses.replace(CLI, setting=setting)


def _run_store(args: argparse.Namespace) -> str:
    return str(args.run_store or os.environ.get(RUN_STORE_ENV) or MEMORY)


def _log_start(args: argparse.Namespace) -> None:
    # Built from the same settings the server uses; the key is only ever reported as set or not.
    s = resolve_settings(**settings_from(args))
    logger.info(
        "%s %s: %s over %s; model %s via %s at %s",
        _prog(),
        __version__,
        TOOL_NAME,
        args.transport,
        s.model,
        s.protocol,
        s.base_url,
    )
    if (store := _run_store(args)) != MEMORY:
        logger.info("runs kept in %s, shared by every replica given it", shown_url(store))
    if args.emulator:
        logger.info("--emulator: calls are answered by the built-in emulator (scripted answers, no key needed)")
    elif s.api_key is None:
        logger.warning(
            "%s is not set: the tool is listed, but every call will return an error saying how to set it "
            '(in the MCP client config\'s "env" block).',
            C.ENV_API_KEY,
        )


if __name__ == "__main__":
    sys.exit(main())
