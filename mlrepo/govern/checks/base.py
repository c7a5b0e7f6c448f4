"""What every rule family shares: rules with stable ids, violations, and a cached view of the tree."""

from __future__ import annotations

import ast
import os
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

GOVERNANCE = Path("conf") / "governance.yaml"
"""Where a repository keeps its rules' data (reserved tasks, directors, data allow-list)."""

DEFAULTS: dict[str, Any] = {
    "reserved_tasks": ["train", "dataset", "estudy", "study"],
    "directors": ["@dev-director"],
    "director_paths": [
        "mlrepo/",
        "conf/governance.yaml",
        ".github/",
        ".pre-commit-config.yaml",
        "Makefile",
        "mk/",
        "Pipfile",
        "Pipfile.lock",
    ],  # fmt: skip
    "documented": ["datasets", "models", "train", "mlrepo", "deploy"],
    "data": {
        "extensions": ["csv", "parquet", "npy", "npz", "png", "jpg"],
        "max_kb": 500,
        "image_kb": 64,
        "min_rows": 3,
        "nested_rows": 20,
        "structured": [
            "Pipfile.lock",
            "*.ipynb",
            "*.dvc",
            "dvc.lock",
            ".pre-commit-config.yaml",
            ".secrets.baseline",
        ],
        "allow": [],
    },
    "substance": ["datasets", "models", "train", "deploy"],
    "min_words": {"Description": 5, "Explanation": 5, "Motivation": 5, "Changes": 3},
    "one_piece_per_pr": "warn",
    "walk_skip": [".git", ".venv", "__pycache__", "outputs", "data"],
}
"""The rules' data when a tree has no conf/governance.yaml (fixture trees, new repositories)."""


@dataclass(frozen=True)
class Rule:
    """One rule of the repository, with a stable id that reports and docs refer to.

    Attributes:
        id: the stable id (`MODEL-DOCS`), printed first on every violation.
        summary: what the rule asks, in one line.
        fix: how to fix a violation, in one line.
    """

    id: str
    summary: str
    fix: str


@dataclass(frozen=True, order=True)
class Violation:
    """One place where the tree breaks a rule.

    Attributes:
        path: the file or folder, relative to the repository root (posix).
        line: the 1-based line the message is about (1 for a whole file or folder).
        rule: the rule's id.
        message: what is wrong there.
    """

    path: str
    line: int
    rule: str
    message: str


@dataclass
class Repo:
    """A read-only view of a repository tree, with the parses cached (the checker never imports it).

    Attributes:
        root: the repository root.
        settings: conf/governance.yaml merged over `DEFAULTS`.
        unreadable: files that did not parse, `{path: (line, message)}` (reported as `PARSE`).
        rev: a git revision to read instead of the working tree (`pr-check --head`): files come
            from `git ls-tree` / `git cat-file`, never from the disk, and nothing is executed.
    """

    root: Path
    settings: dict[str, Any] = field(default_factory=dict)
    unreadable: dict[str, tuple[int, str]] = field(default_factory=dict)
    rev: str | None = None
    _blobs: dict[str, bytes] | None = field(default=None, repr=False)
    _entries: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)
    _trees: dict[str, ast.Module | None] = field(default_factory=dict, repr=False)
    _texts: dict[str, str] = field(default_factory=dict, repr=False)
    _children: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, root: Path, rev: str | None = None, settings: dict[str, Any] | None = None) -> Repo:
        """Open the tree at `root` (or its revision `rev`), with its conf/governance.yaml if it has one.

        Args:
            root: the repository root.
            rev: a git revision whose files to read instead of the working tree's.
            settings: the rules' data to apply (`pr-check` passes the base's); default: the tree's own.

        Returns:
            The view, with nothing else read yet.
        """
        root = Path(root).resolve()
        if settings is None:
            text = None
            if rev is not None:
                done = subprocess.run(["git", "-C", str(root), "show", f"{rev}:{GOVERNANCE.as_posix()}"],
                                      capture_output=True, text=True, check=False)  # fmt: skip
                text = done.stdout if done.returncode == 0 else None
            elif (root / GOVERNANCE).is_file():
                text = (root / GOVERNANCE).read_text()
            settings = merge_settings(text)
        return cls(root=root, settings=settings, rev=rev)

    def git(self, *args: str) -> str | None:
        """Run a read-only git command in the tree; None outside a git repository or on failure."""
        try:
            done = subprocess.run(
                ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            return None
        return done.stdout if done.returncode == 0 else None

    @cached_property
    def is_git(self) -> bool:
        """Whether the root is the top of a git work tree."""
        if self.rev is not None:
            return True
        top = self.git("rev-parse", "--show-toplevel")
        return top is not None and Path(top.strip()).resolve() == self.root

    @cached_property
    def files(self) -> list[str]:
        """Files in git or about to be (tracked + untracked, not ignored), or a walk outside git."""
        if self.rev is not None:
            out = self.git("ls-tree", "-r", "-z", "--long", "--full-tree", self.rev) or ""
            for record in out.split("\0"):
                meta, sep, name = record.partition("\t")
                fields = meta.split()
                if sep and len(fields) == 4 and fields[1] == "blob":
                    self._entries[name] = (fields[0], int(fields[3]))
            return sorted(self._entries)
        if self.is_git:
            out = self.git("ls-files", "-co", "--exclude-standard", "-z") or ""
            names = sorted({name for name in out.split("\0") if name})
            base = str(self.root) + os.sep
            return [name for name in names if os.path.isfile(base + name)]
        skip = set(self.settings["walk_skip"])
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            rel = "" if rel == "." else rel + "/"
            dirnames[:] = sorted(d for d in dirnames if d not in skip and rel + d not in skip)
            found.extend(rel + name for name in filenames if not name.endswith(".pyc"))
        return sorted(found)

    @cached_property
    def fileset(self) -> frozenset[str]:
        """`files` as a set, for membership tests."""
        return frozenset(self.files)

    def children(self, top: str) -> dict[str, list[str]]:
        """The folders directly under `top` that hold files, each with its files (relative to it).

        Args:
            top: a folder relative to the root (`models`).

        Returns:
            `{folder name: [paths inside it, relative to that folder]}`.
        """
        prefix = top.rstrip("/") + "/"
        if prefix in self._children:
            return self._children[prefix]
        found: dict[str, list[str]] = {}
        for name in self.files:
            if name.startswith(prefix):
                rest = name[len(prefix) :]
                head, sep, tail = rest.partition("/")
                if sep:
                    found.setdefault(head, []).append(tail)
        self._children[prefix] = found
        return found

    def text(self, path: str) -> str:
        """The text of a file relative to the root, read once (string paths: pathlib is slow here)."""
        if path not in self._texts:
            if self.rev is not None:
                self._texts[path] = self.blob(path).decode("utf-8", errors="replace")
            else:
                with open(os.path.join(self.root, path), encoding="utf-8", errors="replace") as handle:
                    self._texts[path] = handle.read()
        return self._texts[path]

    def blob(self, path: str) -> bytes:
        """The bytes of a file of the revision (every blob is read in one `git cat-file --batch`)."""
        if self._blobs is None:
            names = self.files
            request = "".join(f"{self.rev}:{name}\n" for name in names).encode()
            done = subprocess.run(["git", "-C", str(self.root), "cat-file", "--batch"], input=request,
                                  capture_output=True, check=False)  # fmt: skip
            self._blobs, out, at = {}, done.stdout, 0
            for name in names:
                end = out.index(b"\n", at)
                header = out[at:end].split()
                size = int(header[2]) if len(header) == 3 else 0
                self._blobs[name] = out[end + 1 : end + 1 + size]
                at = end + 1 + size + (1 if len(header) == 3 else 0)
        return self._blobs.get(path, b"")

    def head(self, path: str, size: int = 4096) -> bytes:
        """The first `size` bytes of a file (how data is recognized by its content)."""
        if self.rev is not None:
            return self.blob(path)[:size]
        with open(os.path.join(self.root, path), "rb") as handle:
            return handle.read(size)

    def size(self, path: str) -> int:
        """A file's size in bytes."""
        if self.rev is not None:
            self.files  # noqa: B018 (fills the entries)
            return self._entries[path][1]
        return os.stat(os.path.join(self.root, path)).st_size

    def executable(self, path: str) -> bool:
        """Whether a file has its executable bit (git's mode 100755 for a revision)."""
        if self.rev is not None:
            self.files  # noqa: B018 (fills the entries)
            return self._entries.get(path, ("",))[0] == "100755"
        return os.access(os.path.join(self.root, path), os.X_OK)

    def folder(self, path: str) -> list[str]:
        """The names directly inside a folder (on disk, or in the revision), ignored files included."""
        if self.rev is not None:
            prefix = path.rstrip("/") + "/"
            return sorted({f[len(prefix) :].split("/", 1)[0] for f in self.files if f.startswith(prefix)})
        full = os.path.join(self.root, path)
        return sorted(os.listdir(full)) if os.path.isdir(full) else []

    def tree(self, path: str) -> ast.Module | None:
        """The AST of a Python file, parsed once; None (and noted in `unreadable`) on a syntax error."""
        if path not in self._trees:
            try:
                self._trees[path] = ast.parse(self.text(path), filename=path)
            except SyntaxError as exc:
                self._trees[path] = None
                self.unreadable[path] = (exc.lineno or 1, f"syntax error: {exc.msg}")
        return self._trees[path]

    def yaml(self, path: str) -> Any:
        """The parsed content of a YAML file; None (and noted in `unreadable`) when it is not YAML."""
        import yaml

        try:
            return yaml.load(self.text(path), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.unreadable[path] = ((mark.line + 1) if mark else 1, f"invalid YAML: {exc}".splitlines()[0])
            return None


def merge_settings(text: str | None) -> dict[str, Any]:
    """The rules' data: a conf/governance.yaml's text (None: none) merged over `DEFAULTS`."""
    import yaml

    settings = {**DEFAULTS}
    loaded = (yaml.safe_load(text) or {}) if text else {}
    settings.update(loaded)
    settings["data"] = {**DEFAULTS["data"], **loaded.get("data", {})}
    return settings


def line_of(text: str, needle: str, default: int = 1) -> int:
    """The 1-based line of the first occurrence of `needle` in `text`, or `default`."""
    at = text.find(needle)
    return default if at < 0 else text.count("\n", 0, at) + 1
