"""Where the code of a run comes from: commit, branch and whether the tree is dirty."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitInfo:
    """The state of the working tree a run starts from.

    Attributes:
        commit: the HEAD commit, or `"unknown"` outside a git repository.
        branch: the branch name (`"HEAD"` when detached, unless CI names it).
        dirty: whether tracked files changed or untracked, non-ignored files exist.
    """

    commit: str
    branch: str
    dirty: bool
    changed: tuple[str, ...] = ()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return done.stdout.rstrip("\n") if done.returncode == 0 else None


def describe(root: Path) -> GitInfo:
    """Describe the git state of `root`; outside a repository the tree counts as dirty.

    Args:
        root: the repository root.

    Returns:
        The commit, the branch and the dirty flag with the changed paths.
    """
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return GitInfo(commit="unknown", branch="unknown", dirty=True, changed=("<not a git repository>",))
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD") or "unknown"
    if branch == "HEAD":  # detached, as in CI checkouts: CI names the branch
        branch = os.environ.get("GITHUB_HEAD_REF") or os.environ.get("GITHUB_REF_NAME") or branch
    status = _git(root, "status", "--porcelain") or ""
    changed = tuple(line[3:] for line in status.splitlines() if line.strip())
    return GitInfo(commit=commit, branch=branch, dirty=bool(changed), changed=changed)
