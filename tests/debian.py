"""Debian packages the tests need (nginx, redis-server), installed by the test setup when missing."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["find_program", "install_package"]


def find_program(name: str, *candidates: str) -> str | None:
    """The executable *name* on PATH or at one of *candidates*."""
    found = shutil.which(name)
    if found:
        return found
    return next((path for path in candidates if os.access(path, os.X_OK)), None)


def install_package(package: str) -> str:
    """``apt-get update && apt-get install -y PACKAGE``; returns why it could not, or ''."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "not root and no sudo"
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=120"]  # other jobs on the machine may be installing too
    for step in (["apt-get", *lock, "update", "-q"], ["apt-get", *lock, "install", "-y", "-q", package]):
        try:
            done = subprocess.run([*prefix, *step], env=env, capture_output=True, text=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            return f"{' '.join(step)} took over 10 minutes"
        if done.returncode != 0:
            return f"{' '.join(step)} failed: {done.stderr.strip()[-300:]}"
    return ""
