"""Helpers for the digits / tables / DVC tests: a DVC-enabled copy of the repository, and `dvc`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import PYTHON, ROOT, copy_repo

#: What DVC needs beside the source that `copy_repo` copies.
DVC_FILES = ("dvc.yaml", "dvc.lock", ".dvcignore", ".dvc/config", ".dvc/.gitignore")
TABLE = "cnnv1_dataset_v1"
TABLE_PATH = f"data/{TABLE}.parquet"
_GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip


def env() -> dict[str, str]:
    """The environment DVC stages run in: the project's python first on PATH, no analytics."""
    venv_bin = str(Path(PYTHON).parent)
    return {**os.environ, "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""), "DVC_NO_ANALYTICS": "1"}


def dvc(*args: str, cwd: Path, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `dvc ARGS` (the locked one) in `cwd` and capture its output; fail loudly when `check`."""
    done = subprocess.run(
        [PYTHON, "-m", "dvc", *args], cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def git(*args: str, cwd: Path) -> None:
    """Run git in `cwd` as a throwaway author."""
    subprocess.run(["git", *args], cwd=cwd, check=True, env={**os.environ, **_GIT_ENV}, capture_output=True)


def dvc_repo_copy(dest: Path, remote: Path) -> Path:
    """A committed copy of the repository with its DVC files, whose default remote is `remote`.

    The remote is set in `.dvc/config.local` (git-ignored), as a user would point it elsewhere,
    so the copy's committed `.dvc/config` stays the repository's.
    """
    copy_repo(dest)
    for name in DVC_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "dvc files", cwd=dest)
    remote.mkdir(parents=True, exist_ok=True)
    dvc("remote", "modify", "--local", "local", "url", str(remote), cwd=dest)
    return dest


def locked_md5(root: Path = ROOT, path: str = TABLE_PATH) -> str:
    """The md5 that `root`'s dvc.lock records for `path`."""
    from mlrepo.track import tables

    found = tables.locked_hash(root / path, root)
    assert found is not None, f"dvc.lock records no out {path}"
    return found


@contextmanager
def mlflow_store(uri: str) -> Iterator[None]:
    """Point this process's MLflow at `uri`, and forget it afterwards.

    `mlflow.set_tracking_uri` is process-global and outlives a test: left set, it would send a
    later test's `runs:/` look-ups to this test's store.
    """
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)
