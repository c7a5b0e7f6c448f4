"""How long `make lab` takes to answer: from the command to JupyterLab's first 200 on
`/api/status` (with the token) and on `/lab` (the page a browser opens), against the same
`python -m jupyter lab` started directly (the baseline: what make and the kernel spec add).

    .venv/bin/python bench/lab.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _time(args: list[str], port: int, env: dict[str, str]) -> tuple[float, float]:
    """Seconds to the first 200 of /api/status and of /lab; the server is stopped after."""
    start = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        while not _ok(f"http://127.0.0.1:{port}/api/status?token={TOKEN}"):
            if proc.poll() is not None or time.monotonic() - start > 120:
                raise SystemExit(f"{args[0]} did not answer (exit {proc.returncode})")
            time.sleep(0.05)
        api = time.monotonic() - start
        while not _ok(f"http://127.0.0.1:{port}/lab?token={TOKEN}"):
            time.sleep(0.05)
        return api, time.monotonic() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JUPYTER_CONFIG_DIR": f"{tmp}/config", "JUPYTER_RUNTIME_DIR": f"{tmp}/runtime"}
        results: dict[str, list[tuple[float, float]]] = {"make lab": [], "jupyter lab": []}
        commands = {
            "make lab": lambda port: ["make", "-o", ".venv/.synced", "lab", f"LAB_PORT={port}",
                                      f"LAB_TOKEN={TOKEN}", "LAB_ARGS=--no-browser"],
            "jupyter lab": lambda port: [sys.executable, "-m", "jupyter", "lab", "--no-browser",
                                         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                                         f"--IdentityProvider.token={TOKEN}", "--allow-root"],
        }  # fmt: skip
        for i in range(repeat):  # alternate which goes first, so that warm caches favour neither
            for name in sorted(commands, reverse=bool(i % 2)):
                port = _port()
                results[name].append(_time(commands[name](port), port, env))
    medians = {
        k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
        for k, v in results.items()
    }
    for name, (api, lab) in medians.items():
        print(f"{name:12s} /api/status {api:5.2f} s   /lab {lab:5.2f} s   (median of {repeat})")
    ratio = medians["make lab"][1] / medians["jupyter lab"][1]
    print(f"make lab / jupyter lab (to /lab): {ratio:.2f}x")


if __name__ == "__main__":
    main()
