"""A real nginx and a real Redis for the balancer tests: Debian's packages, installed here when missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..debian import find_program, install_package
from ..redis_server import redis_binary, redis_url  # noqa: F401 - fixtures: pytest finds them by name here

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """The nginx executable. The test setup installs Debian's nginx when it is missing; the tests
    skip (saying why) only where it cannot be installed."""
    path = find_program("nginx", *NGINX_CANDIDATES)
    if path is None:
        reason = install_package("nginx")
        path = find_program("nginx", *NGINX_CANDIDATES)
        if path is None:
            pytest.skip(f"nginx is not installed and could not be installed ({reason or 'not found after install'})")
    return path


@pytest.fixture
def deploy_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "deploy"
