"""Helpers for the run-identity, sweep, SLURM and production tests (a plain module, not fixtures)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from conftest import ROOT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_root() -> bool:
    """Whether the tests run as root (installing Debian packages needs it; CI runs as root)."""
    return os.geteuid() == 0


def script(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """Run `scripts/<name>` with bash and return the completed process (output captured)."""
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def has(command: str) -> bool:
    """Whether `command` is on PATH."""
    return shutil.which(command) is not None


def by_tag(runs, key: str, value: str) -> list:
    """The runs (MLflow `Run` objects) whose tag `key` equals `value`."""
    return [r for r in runs if r.data.tags.get(key) == value]


def sweep_outputs(tmp_path: Path) -> str:
    """The override that keeps a sweep's outputs (Hydra dirs, job exit codes) under tmp_path."""
    return f"paths.outputs={tmp_path / 'outputs'}"
