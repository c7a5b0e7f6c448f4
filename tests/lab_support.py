"""`make lab` as a user starts it, on a free loopback port with a known token, always stopped."""

from __future__ import annotations

import contextlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from conftest import ROOT
from deploy_support import free_port, running


def status(url: str) -> tuple[int, str]:
    """GET `url` without following redirects; (status, Location or body start)."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location") or ""


@contextlib.contextmanager
def make_lab(tmp: Path, token: str, timeout: float = 120) -> Iterator[tuple[str, float]]:
    """Start `make -o .venv/.synced lab` with Jupyter's own state under `tmp`; yield the base URL
    and the seconds it took to answer `/api/status` with the token. Stopped on exit."""
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime")}  # fmt: skip
    args = ["make", "-C", str(ROOT), "-o", ".venv/.synced", "lab", f"LAB_PORT={port}",
            f"LAB_TOKEN={token}", "LAB_ARGS=--no-browser"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    with running(args, tmp / "lab.log", env=env) as proc:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"make lab exited {proc.returncode}: {(tmp / 'lab.log').read_text()[-3000:]}"
                )
            with contextlib.suppress(OSError):
                if status(f"{base}/api/status?token={token}")[0] == 200:
                    break
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"make lab did not answer in {timeout} s")
            time.sleep(0.1)
        yield base, time.monotonic() - start


def listening_addresses(port: int) -> set[str]:
    """The local IPv4/IPv6 addresses (hex, as /proc/net shows them) listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hexport = local.partition(":")
                if state == "0A" and int(hexport, 16) == port:
                    found.add(address)
    return found
