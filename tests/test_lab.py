"""`make lab`: JupyterLab on 127.0.0.1 only, behind a token, the repository as its root and the
project's kernel (`mlrepo`, .venv's Python) as the default."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
from conftest import ROOT
from lab_support import listening_addresses, make_lab, status

pytestmark = pytest.mark.slow

LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
"""127.0.0.1 and ::1 as /proc/net/tcp{,6} write them (never 00000000, which is 0.0.0.0)."""


def test_make_lab_answers_on_loopback_with_a_token(tmp_path: Path) -> None:
    """It answers with the token, refuses without it, listens on 127.0.0.1 only, serves the
    repository and defaults to the project's kernel."""
    token = "test-token-4f1c2e"
    with make_lab(tmp_path, token) as (base, seconds):
        print(f"make lab answered in {seconds:.1f} s")
        port = urllib.parse.urlsplit(base).port
        addresses = listening_addresses(port)
        assert addresses and addresses <= LOOPBACK, addresses

        code, _ = status(f"{base}/api/status")
        assert code == 403
        code, location = status(f"{base}/lab")
        assert code == 302 and "/login" in location
        assert status(f"{base}/api/contents?token=wrong")[0] == 403

        code, body = status(f"{base}/lab?token={token}")
        assert code == 200 and "JupyterLab" in body
        code, body = status(f"{base}/api/kernelspecs?token={token}")
        specs = json.loads(body)
        assert specs["default"] == "mlrepo" and specs["kernelspecs"]["mlrepo"]["spec"]["argv"][0] == "python"
        code, body = status(f"{base}/api/contents/models/IrisClassifier?token={token}")
        assert code == 200 and "model.py" in body, "the repository is the root"
    assert (ROOT / ".venv/share/jupyter/kernels/mlrepo/kernel.json").is_file()
