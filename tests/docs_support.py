"""Helpers for the docs tests: a clean copy that can run `make docs`, tree digests, headless Chromium."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT, copy_repo

#: Where browser screenshots are kept (git-ignored through outputs/), for people to look at.
ARTIFACTS = ROOT / "outputs" / "test-artifacts" / "docs"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--window-size=1400,1800",
    # No network: any name resolves nowhere and any http(s) request goes to a dead proxy, so a
    # page that still needs a CDN shows raw text instead of passing by luck.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
)


def docs_checkout(dest: Path) -> Path:
    """Copy what `make docs` needs into `dest` (a clean git repo, no previous build).

    The copy gets the source (as the other tests copy it), `docs/` without `_build/`, the
    Makefile and `mk/`; `.venv` is a link to this repository's locked environment.
    """
    copy_repo(dest, git=False)
    shutil.copytree(ROOT / "docs", dest / "docs", ignore=shutil.ignore_patterns("_build"))
    shutil.copytree(ROOT / "mk", dest / "mk")
    shutil.copy2(ROOT / "Makefile", dest / "Makefile")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run(["git", *args], cwd=dest, check=True, env=env, capture_output=True)
    (dest / ".venv").symlink_to(ROOT / ".venv")  # after the commit: a link is not git's business
    return dest


def make_docs(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run `make docs` in `cwd` as a user would; the environment is taken as installed.

    `-o .venv/.synced` tells make not to re-sync the (linked) environment: installing is
    `make init`'s job, tested elsewhere, and must never touch the shared venv from a test.
    """
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.synced", "docs", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def install_chromium() -> None:
    """Install Debian's chromium and chromium-driver with the project's script when missing."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-chromium.sh")], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"install-chromium.sh failed:\n{done.stdout}\n{done.stderr}"


def chromium(user_data_dir: Path, loopback: bool = False):
    """A headless Chromium driven by selenium, with a new empty profile and no network
    (with `loopback`, 127.0.0.1 only: a server the test started).

    The caller quits it (`driver.quit()`), which also stops chromedriver and the browser.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        if loopback and flag.startswith("--host-resolver-rules="):
            flag += ", EXCLUDE 127.0.0.1"
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    # An explicit driver path: Selenium Manager would otherwise try to download one.
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)
