"""Rules on the environment: Pipfile.lock matches Pipfile, and CODEOWNERS gives both to a director."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from mlrepo.checks.base import Repo, Rule, Violation

PIPFILE_LOCK = Rule(
    "PIPFILE-LOCK",
    "Pipfile.lock's `_meta.hash.sha256` matches Pipfile",
    "the development director runs `pipenv lock` and commits Pipfile and Pipfile.lock together",
)
PIPFILE_OWNER = Rule(
    "PIPFILE-OWNER",
    ".github/CODEOWNERS gives Pipfile and Pipfile.lock to a director (conf/governance.yaml `directors`)",
    "add `/Pipfile @dev-director` and `/Pipfile.lock @dev-director` lines to .github/CODEOWNERS",
)
RULES = (PIPFILE_LOCK, PIPFILE_OWNER)
"""The rules of this family."""

_SECTIONS = {
    "source",
    "packages",
    "dev-packages",
    "requires",
    "scripts",
    "pipfile",
    "pipenv",
    "default",
    "develop",
}
DEFAULT_SOURCE = [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}]


def _canonical(name: str) -> str:
    """PEP 503 normalized name, as pipenv hashes it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pipfile_hash(pipfile: Path) -> str:
    """The hash pipenv writes into Pipfile.lock for this Pipfile, computed without pipenv or network.

    It mirrors pipenv 2026.10's `Pipfile.calculate_hash` (plette's `get_hash` with PEP 503
    package names): the sha256 of the sorted, compact JSON of the parsed Pipfile.

    Raises:
        tomllib.TOMLDecodeError: the Pipfile is not valid TOML.
    """
    raw = tomllib.loads(pipfile.read_text(encoding="utf-8"))

    def names(section: dict) -> dict:
        return {_canonical(k): v for k, v in section.items()}

    data = {
        "_meta": {"sources": raw.get("source", DEFAULT_SOURCE), "requires": raw.get("requires", {})},
        "default": names(raw.get("packages", {})),
        "develop": names(raw.get("dev-packages", {})),
    }
    for category, values in raw.items():
        if category not in _SECTIONS:
            data[category] = names(values)
    content = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def lock_problem(root: Path) -> str | None:
    """Why Pipfile.lock is out of date with Pipfile; None when it is up to date or there is no Pipfile."""
    pipfile, lock = root / "Pipfile", root / "Pipfile.lock"
    if not pipfile.is_file():
        return None
    if not lock.is_file():
        return "Pipfile has no Pipfile.lock"
    try:
        expected = pipfile_hash(pipfile)
    except tomllib.TOMLDecodeError as exc:
        return f"Pipfile is not valid TOML: {exc}"
    try:
        recorded = json.loads(lock.read_text(encoding="utf-8"))["_meta"]["hash"]["sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return f"Pipfile.lock has no readable _meta.hash.sha256 ({type(exc).__name__})"
    if recorded != expected:
        return (
            f"Pipfile.lock is out of date with Pipfile (lock hash {recorded[:12]}…, "
            f"Pipfile hashes to {expected[:12]}…)"
        )
    return None


def handles(settings_directors: list[str]) -> set[str]:
    """The directors as comparable handles: lower case, without the leading `@`."""
    return {d.lower().lstrip("@") for d in settings_directors}


def check(repo: Repo) -> Iterator[Violation]:
    """Check the lock's hash and the CODEOWNERS lines for Pipfile and Pipfile.lock."""
    if "Pipfile" not in repo.fileset:
        return
    problem = lock_problem(repo.root)
    if problem:
        yield Violation("Pipfile.lock", 1, PIPFILE_LOCK.id, problem)
    owners_path = ".github/CODEOWNERS"
    if owners_path not in repo.fileset:
        yield Violation(owners_path, 1, PIPFILE_OWNER.id, "missing: it must name the director for Pipfile")
        return
    directors = handles(repo.settings["directors"])
    lines = repo.text(owners_path).splitlines()
    for target in ("Pipfile", "Pipfile.lock"):
        owned = False
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if fields and fields[0].lstrip("/") == target:
                owned = bool({f.lower().lstrip("@") for f in fields[1:]} & directors)
        if not owned:
            yield Violation(owners_path, 1, PIPFILE_OWNER.id, f"no line gives /{target} to a director")
