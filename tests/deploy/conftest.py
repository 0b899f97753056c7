"""A real nginx for the balancer tests: Debian's package, installed here when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..machine_lock import machine_lock

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def _find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)


def _install_nginx() -> str:
    """``apt-get update && apt-get install -y nginx``; returns why it could not, or ''."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "not root and no sudo"
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=120"]  # other jobs on the machine may be installing too
    for step in (["apt-get", *lock, "update", "-q"], ["apt-get", *lock, "install", "-y", "-q", "nginx"]):
        try:
            done = subprocess.run([*prefix, *step], env=env, capture_output=True, text=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            return f"{' '.join(step)} took over 10 minutes"
        if done.returncode != 0:
            return f"{' '.join(step)} failed: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """The nginx executable. The test setup installs Debian's nginx when it is missing; the tests
    skip (saying why) only where it cannot be installed."""
    reason = ""
    with machine_lock("apt-get"):  # workers needing it at once: one installs, the others then find it
        path = _find_nginx()
        if path is None:
            reason = _install_nginx()
            path = _find_nginx()
    if path is None:
        pytest.skip(f"nginx is not installed and could not be installed ({reason or 'not found after install'})")
    return path


@pytest.fixture
def deploy_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "deploy"
