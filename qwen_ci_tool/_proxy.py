"""Proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, as httpx reads them).

httpx builds a transport for every proxy variable when a client is created, so a proxy it cannot
use fails there: a ``socks5://`` proxy without the ``socksio`` package is an ``ImportError``, an
unknown scheme a ``ValueError``. :func:`new_client` turns both into a :class:`ConfigurationError`
naming the variable and the proxy, never its credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

from ._errors import proxy_unusable_error

__all__ = ["new_client", "proxy_variable", "without_credentials"]

T = TypeVar("T")

#: The variables httpx reads, in the order a failure is blamed on them.
_VARIABLES = ("all_proxy", "https_proxy", "http_proxy")


def without_credentials(url: str) -> str:
    """*url* with any ``user:password@`` removed: a proxy is shown, its credentials never."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.rsplit("@", 1)[-1]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rsplit('@', 1)[-1]}{slash}{path}"


def proxy_variable(env: Mapping[str, str], *, scheme_prefix: str = "") -> tuple[str, str] | None:
    """The proxy variable that is set (as it is spelled) and its value, first by :data:`_VARIABLES`;
    with *scheme_prefix*, only one whose proxy URL starts with it (``"socks"``)."""
    for wanted in _VARIABLES:
        for name, value in env.items():
            if name.lower() == wanted and value.strip() and value.strip().lower().startswith(scheme_prefix):
                return name, value.strip()
    return None


def new_client(factory: Callable[..., T], **options: object) -> T:
    """``factory(**options)`` (an ``httpx.Client`` or ``AsyncClient``), with a proxy it cannot use
    reported as a :class:`ConfigurationError` that names the variable to change."""
    try:
        return factory(**options)
    except ImportError:  # httpx: "Using SOCKS proxy, but the 'socksio' package is not installed"
        name, value = proxy_variable(os.environ, scheme_prefix="socks") or ("ALL_PROXY", "socks5://...")
        raise proxy_unusable_error(name, without_credentials(value), socks=True) from None
    except ValueError as exc:  # httpx: "Unknown scheme for proxy URL ..." (which shows the credentials)
        found = proxy_variable(os.environ)
        if found is None or "proxy" not in str(exc).lower():
            raise
        raise proxy_unusable_error(found[0], without_credentials(found[1]), socks=False) from None
