"""Bearer tokens for HTTP clients: one shared token, or a file of named tokens reloaded on SIGHUP.

A token file has one ``name:token`` per line (blank lines and ``#`` comments are skipped). The
name labels the client's log lines and metrics, so a team sees who spends what; the token is
never logged or echoed, not even in the error for a bad line. Presented tokens are compared with
every known token in constant time (``hmac.compare_digest``), so timing tells nothing about them.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "AUTH_TOKEN_ENV",
    "AUTH_TOKEN_FILE_ENV",
    "SINGLE_TOKEN_CLIENT",
    "Credentials",
    "TokenFileError",
    "is_loopback",
    "parse_token_file",
]

logger = logging.getLogger("mcp_server")

AUTH_TOKEN_ENV = "QWEN_CI_MCP_AUTH_TOKEN"
AUTH_TOKEN_FILE_ENV = "QWEN_CI_MCP_AUTH_TOKEN_FILE"
#: The client name of requests that present the single ``--auth-token``.
SINGLE_TOKEN_CLIENT = "default"
#: Client names: short, label- and log-safe.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
#: Shortest token accepted from a file: a guessable token is no protection.
MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    """Whether binding *host* keeps the server reachable from this machine only (elsewhere it needs a token)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TokenFileError(ValueError):
    """The token file cannot be used; the message names the file and line, never a token."""


def parse_token_file(path: str | Path) -> dict[str, str]:
    """Read ``name:token`` lines; returns ``{token: name}``. Raises :class:`TokenFileError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TokenFileError(f"cannot read the auth token file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"the auth token file {path} is not UTF-8 text.") from None
    tokens: dict[str, str] = {}
    names: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}, line {number}"
        name, _, token = line.partition(":")
        name, token = name.strip(), token.strip()
        if not token:  # no colon leaves it empty too
            raise TokenFileError(f"{where}: expected 'name:token' (one client per line).")
        if not _NAME.fullmatch(name):
            raise TokenFileError(
                f"{where}: the client name must be 1-64 letters, digits or '_.@-', starting with a letter or digit."
            )
        if not token.isascii() or not token.isprintable() or " " in token:
            raise TokenFileError(f"{where}: the token for {name!r} must be printable ASCII without spaces.")
        if len(token) < MIN_TOKEN_CHARS:
            raise TokenFileError(
                f"{where}: the token for {name!r} is shorter than {MIN_TOKEN_CHARS} characters; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if name in names:
            raise TokenFileError(f"{where}: the client name {name!r} appears twice.")
        if token in tokens:
            raise TokenFileError(
                f"{where}: {name!r} has the same token as {tokens[token]!r}; give each client its own."
            )
        names.add(name)
        tokens[token] = name
    if not tokens:
        raise TokenFileError(f"the auth token file {path} has no 'name:token' lines.")
    return tokens


class Credentials:
    """The tokens this server accepts, each with the client name it stands for.

    Built from one shared token (client name ``default``) or from a token file; :meth:`reload`
    re-reads the file and keeps the tokens in use when the new file is bad.
    """

    def __init__(self, tokens: Mapping[str, str], *, path: str | Path | None = None) -> None:
        self._tokens = {t.encode(): n for t, n in tokens.items()}
        self.path = Path(path) if path is not None else None

    @classmethod
    def single(cls, token: str) -> Credentials:
        return cls({token: SINGLE_TOKEN_CLIENT})

    @classmethod
    def from_file(cls, path: str | Path) -> Credentials:
        return cls(parse_token_file(path), path=path)

    @property
    def names(self) -> list[str]:
        return sorted(self._tokens.values())

    def secrets(self) -> list[str]:
        """Every token, for log redaction only."""
        return [t.decode() for t in self._tokens]

    def client_for(self, presented: bytes) -> str | None:
        """The client name for a presented token, or ``None``; constant time in the token's content."""
        found: str | None = None
        for token, name in self._tokens.items():
            # Every token is compared (no early exit), so the time does not depend on which matched.
            if hmac.compare_digest(presented, token):
                found = name
        return found

    def reload(self) -> bool:
        """Re-read the token file. On a bad file the current tokens stay and the error is logged."""
        if self.path is None:
            return False
        try:
            tokens = parse_token_file(self.path)
        except TokenFileError as exc:
            logger.error("auth token file not reloaded, the previous tokens stay in use: %s", exc)
            return False
        self._tokens = {t.encode(): n for t, n in tokens.items()}
        logger.info("auth token file %s reloaded: %d clients (%s)", self.path, len(tokens), ", ".join(self.names))
        return True
