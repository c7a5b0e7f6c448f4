"""`new project` and `new update`: another team's repository started from this one, and kept up to date.

A project is rendered from a commit of this repository (the template version): its machinery
(`MACHINERY`), the Iris example unless `--no-examples` (`EXAMPLES`), the tests that do not need
the examples left out, and `templates/project/` (README, the answers file, project settings)
rendered with the answers. The director, tracking URI and registry are written where the
machinery reads them. `new update`, run inside the project, renders the recorded commit and the
new one with the same answers and merges the difference into the team's files three ways
(`git merge-file`), as copier's `update` does; conflicts are left marked and listed.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlrepo import ROOT
from mlrepo.errors import UserError

ANSWERS = ".mlrepo-answers.yml"
"""The answers file: the template's source and commit, and the answers the project was made with."""
MACHINERY = (
    "mlrepo/", "conf/", "mk/", "scripts/", ".github/", "docs/", "tests/", ".ci/", ".dvc/",
    "Makefile", ".pre-commit-config.yaml", "Pipfile", "Pipfile.lock", "pyproject.toml", ".gitignore",
    ".dvcignore", ".env.example", ".secrets.baseline", "bench/.keep",
    "train/__init__.py", "train/__main__.py", "datasets/__init__.py", "models/__init__.py",
)  # fmt: skip
"""What every project gets from this repository (folders end with `/`)."""
EXAMPLES = (
    "datasets/iris/", "models/IrisClassifier/", "train/iris/", "conf/pipeline/train_iris.yaml",
    "train/estudy_iris/", "conf/pipeline/estudy_iris.yaml", "deploy/IrisClassifier/",
    "conf/pipeline/estudy_iris_errors.yaml",
)  # fmt: skip
"""The Iris example, left out by `--no-examples`."""
LEFT_OUT = (
    "conf/pipeline/cnnv1-digitsv1.yaml",
    "conf/pipeline/dataset_digits.yaml",
    "conf/pipeline/train_housing.yaml",
)
"""Files under `MACHINERY` that belong to this repository's own examples."""
_EXAMPLE_WORDS = {
    "all": re.compile(rb"digits|Digits|cnnv1|housing|Housing"),
    "iris": re.compile(rb"iris|Iris"),
}
_PROJECT_TEMPLATE = "mlrepo/new/templates/project/"


@dataclass(frozen=True)
class Answers:
    """What `new project` was asked: recorded in `ANSWERS`, reused by `new update`."""

    name: str
    description: str
    director: str
    region: str | None = None
    ecr_prefix: str | None = None
    tracking_uri: str | None = None
    examples: bool = True

    def context(self, commit: str, source: str) -> dict[str, Any]:
        """The templates' values: the answers, the director's handle, the template's source and commit."""
        handle = self.director if self.director.startswith("@") else f"@{self.director}"
        return {**self.__dict__, "handle": handle, "commit": commit, "source": source}


def add_arguments(sub: Any) -> None:
    """Add `new project` and `new update` to the `new` subcommands."""
    project = sub.add_parser("project", help="a new git repository for another team, from this one")
    project.add_argument("path", type=Path, help="where to create it (must not exist, or be empty)")
    project.add_argument("--name", required=True, help="the project's name (the README's title)")
    project.add_argument("--description", required=True, help="one or two sentences: what the team builds")
    project.add_argument("--director", required=True, help="the development director (GitHub handle)")
    project.add_argument("--region", default=None, help="AWS region of the registry, e.g. eu-west-1")
    project.add_argument("--ecr-prefix", default=None, help="prefix of the ECR repositories, e.g. acme/")
    project.add_argument("--tracking-uri", default=None, help="the production MLflow tracking server")
    project.add_argument("--no-examples", action="store_true", help="leave the Iris example out")
    project.add_argument("--from", dest="source", type=Path, default=ROOT, help="template repository")
    update = sub.add_parser("update", help="bring in a later template version, keeping local changes")
    update.add_argument("--root", type=Path, default=ROOT, help="the project (default: this one)")
    update.add_argument("--from", dest="source", type=Path, default=None, help="default: the recorded source")
    update.add_argument("--to", default="HEAD", help="the template commit to update to (default: HEAD)")


def run(args: argparse.Namespace) -> int:
    """Run `new project` or `new update`."""
    return _create(args) if args.kind == "project" else _update(args)


# --- rendering a template version ---------------------------------------------------------------


def _git(repo: Path, *args: str, binary: bool = False, check: bool = True) -> Any:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=not binary, check=False)
    if check and done.returncode != 0:
        err = done.stderr if not binary else done.stderr.decode(errors="replace")
        raise UserError(f"git {' '.join(args[:2])} failed in {repo}: {err.strip()}")
    return done.stdout


def _selected(path: str, examples: bool) -> bool:
    def under(items: tuple[str, ...]) -> bool:
        return any(path == item or (item.endswith("/") and path.startswith(item)) for item in items)

    if path in LEFT_OUT or (not examples and under(EXAMPLES)):
        return False
    return under(MACHINERY + EXAMPLES)


def _needs_examples(path: str, content: bytes, examples: bool) -> bool:
    """Whether a test is about this repository's examples (those a project does not have)."""
    if not path.startswith("tests/") or path == "tests/conftest.py":
        return False
    return bool(_EXAMPLE_WORDS["all"].search(content)) or (
        not examples and bool(_EXAMPLE_WORDS["iris"].search(content))
    )


def render(source: Path, commit: str, answers: Answers) -> dict[str, tuple[bytes, int]]:
    """The project that template commit `commit` of `source` makes with `answers`.

    Returns:
        `{relative path: (content, mode)}`.

    Raises:
        UserError: `source` is not a git repository or has no such commit.
    """
    from mlrepo.new.render import render_sources

    archive = _git(source, "archive", "--format=tar", commit, binary=True)
    files: dict[str, tuple[bytes, int]] = {}
    templates: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            content = tar.extractfile(member).read()
            if member.name.startswith(_PROJECT_TEMPLATE):
                templates[member.name[len(_PROJECT_TEMPLATE) :]] = content
            if _selected(member.name, answers.examples) and not _needs_examples(
                member.name, content, answers.examples
            ):
                files[member.name] = (content, 0o755 if member.mode & 0o100 else 0o644)
    for path, content in render_sources(templates, answers.context(commit, str(source))).items():
        files[path] = (content, 0o644)
    _customize(files, answers)
    return dict(sorted(files.items()))


def _replace(files: dict[str, tuple[bytes, int]], path: str, pattern: str, new: str) -> None:
    content, mode = files[path]
    text, count = re.subn(pattern, lambda _: new, content.decode(), flags=re.MULTILINE)
    if count == 0:
        raise UserError(f"the template's {path} has no line matching {pattern!r}: fix mlrepo/new/project.py")
    files[path] = (text.encode(), mode)


def _customize(files: dict[str, tuple[bytes, int]], answers: Answers) -> None:
    """Write the answers where the machinery reads them: directors, CODEOWNERS, the tracking URI."""
    handle = answers.context("", "")["handle"]
    _replace(files, "conf/governance.yaml", r"^directors:.*$", f'directors: ["{handle}", "{handle[1:]}"]')
    _replace(files, ".github/CODEOWNERS", r"@dev-director\b", handle)
    if answers.tracking_uri:
        _replace(files, "conf/branch/production.yaml", r"^(  uri:) .*$", f"  uri: {answers.tracking_uri}")
    if answers.region:
        _replace(files, ".env.example", r"^# AWS_DEFAULT_REGION=.*$", f"AWS_DEFAULT_REGION={answers.region}")


# --- new project --------------------------------------------------------------------------------


def _create(args: argparse.Namespace) -> int:
    dest = Path(args.path).resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UserError(f"{dest} already exists and is not empty: choose a new folder for the project.")
    source = Path(args.source).resolve()
    commit = _git(source, "rev-parse", "HEAD").strip()
    answers = Answers(args.name, args.description, args.director, args.region, args.ecr_prefix,
                      args.tracking_uri, not args.no_examples)  # fmt: skip
    files = render(source, commit, answers)
    for path, (content, mode) in files.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
    _git(dest.parent, "init", "-q", "-b", "main", str(dest))
    _git(dest, "add", "-A")
    _git(dest, *_identity(dest), "commit", "-q", "-m", f"Start {args.name} from mlrepo {commit[:12]}")
    print(f"created: {dest} ({len(files)} files, template {commit[:12]}, answers in {ANSWERS})")
    print("next:")
    print(f"  cd {dest} && make train          # installs the locked environment"
          + (", trains Iris" if answers.examples else ", then says how to add a pipeline"))  # fmt: skip
    print("  make new-dataset / new-model / new-pipeline ...   (docs/guides/adding-a-model.md)")
    print("  later: python -m mlrepo new update     # brings in a newer template, keeping your changes")
    return 0


def _identity(repo: Path) -> list[str]:
    """`-c user.name=... -c user.email=...` when git has no identity configured for `repo`."""
    if _git(repo, "config", "user.email", check=False).strip():
        return []
    return ["-c", "user.name=mlrepo new", "-c", "user.email=mlrepo@localhost"]


# --- new update ---------------------------------------------------------------------------------


def read_answers(root: Path) -> tuple[Answers, str, Path]:
    """The answers, template commit and template source recorded in `root`'s answers file.

    Raises:
        UserError: `root` was not made by `new project`.
    """
    import yaml

    path = root / ANSWERS
    if not path.is_file():
        raise UserError(f"{root} has no {ANSWERS}: only a project made by `new project` can be updated.")
    data = yaml.safe_load(path.read_text()) or {}
    fields = {key: data.get(key) for key in Answers.__dataclass_fields__}
    answers = Answers(**{k: v for k, v in fields.items() if v is not None})
    return answers, str(data["_commit"]), Path(data["_src_path"])


def _merge(local: bytes, old: bytes, new: bytes, scratch: Path) -> tuple[bytes, bool]:
    """Three-way merge of one file with `git merge-file`; returns (result, conflicted)."""
    if b"\0" in local + old + new:
        return local, True
    paths = []
    for name, content in (("local", local), ("old", old), ("new", new)):
        paths.append(scratch / name)
        paths[-1].write_bytes(content)
    done = subprocess.run(
        ["git", "merge-file", "-p", "-L", "yours", "-L", "template before", "-L", "template now"]
        + [str(path) for path in paths],
        capture_output=True,
        check=False,
    )
    if done.returncode < 0 or done.returncode > 127:
        raise UserError(f"git merge-file failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout, done.returncode > 0


def _update(args: argparse.Namespace) -> int:
    import tempfile

    root = Path(args.root).resolve()
    answers, old_commit, recorded = read_answers(root)
    source = Path(args.source or recorded).resolve()
    if _git(root, "status", "--porcelain", check=False).strip():
        raise UserError("The working tree has uncommitted changes: commit them first, then update.")
    new_commit = _git(source, "rev-parse", args.to).strip()
    if new_commit == old_commit:
        print(f"update: already at template {new_commit[:12]}")
        return 0
    old, new = render(source, old_commit, answers), render(source, new_commit, answers)
    changed, conflicts, removed = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for path in sorted(set(old) | set(new)):
            if path == ANSWERS:
                continue
            before, after, target = old.get(path), new.get(path), root / path
            local = target.read_bytes() if target.exists() else None
            if before == after or local == (after[0] if after else None):
                continue
            if after is None:  # the template dropped it
                if local is not None and local == before[0]:
                    target.unlink()
                    removed.append(path)
                elif local is not None:
                    conflicts.append(f"{path} (removed from the template, changed here: kept)")
                continue
            if local is None:
                if before is None:  # new in the template
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(after[0])
                    target.chmod(after[1])
                    changed.append(path)
                continue  # deleted here on purpose: stays deleted
            merged, conflicted = _merge(local, before[0] if before else b"", after[0], Path(scratch))
            target.write_bytes(merged)
            changed.append(path)
            if conflicted:
                conflicts.append(path)
    (root / ANSWERS).write_bytes(new[ANSWERS][0])
    print(f"update: template {old_commit[:12]} -> {new_commit[:12]}: {len(changed)} file(s) updated, "
          f"{len(removed)} removed, {len(conflicts)} conflict(s)")  # fmt: skip
    for path in conflicts:
        print(f"  conflict: {path}  (resolve the <<<<<<< markers)")
    print("review with `git diff`, run `make check`, then commit")
    return 1 if conflicts else 0
