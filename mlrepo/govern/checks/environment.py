"""Rules on the environment: Pipfile.lock matches Pipfile, and CODEOWNERS gives both to a director."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from mlrepo.govern.checks.base import Repo, Rule, Violation

PIPFILE_LOCK = Rule(
    "PIPFILE-LOCK",
    "Pipfile.lock locks Pipfile: every package pinned at a version its specifier allows, and "
    "`_meta.hash.sha256` matches",
    "the development director runs `pipenv lock` and commits Pipfile and Pipfile.lock together",
)
PIPFILE_OWNER = Rule(
    "PIPFILE-OWNER",
    ".github/CODEOWNERS gives Pipfile, Pipfile.lock and the machinery and rules (conf/governance.yaml "
    "`director_paths`) to a director (`directors`)",
    "add a `/<path> @dev-director` line to .github/CODEOWNERS for each path it names",
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


def pipfile_hash(pipfile: Path | str) -> str:
    """The hash pipenv writes into Pipfile.lock for this Pipfile, computed without pipenv or network.

    It mirrors pipenv 2026.10's `Pipfile.calculate_hash` (plette's `get_hash` with PEP 503
    package names): the sha256 of the sorted, compact JSON of the parsed Pipfile.

    Args:
        pipfile: the Pipfile's path, or its text.

    Raises:
        tomllib.TOMLDecodeError: the Pipfile is not valid TOML.
    """
    text = pipfile.read_text(encoding="utf-8") if isinstance(pipfile, Path) else pipfile
    raw = tomllib.loads(text)

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
    problems = lock_problems(pipfile.read_text(encoding="utf-8"), lock.read_text(encoding="utf-8"))
    return "; ".join(problems) if problems else None


def lock_problems(pipfile: str, lock: str) -> list[str]:
    """Why a Pipfile.lock does not lock a Pipfile, by content and by hash (texts of both files).

    Every package of `[packages]` / `[dev-packages]` must be in the lock's `default` / `develop`
    with a pinned version its specifier allows, and `_meta.hash.sha256` must match the Pipfile.

    Returns:
        One line per problem; empty when the lock is good.
    """
    try:
        expected = pipfile_hash(pipfile)
        raw = tomllib.loads(pipfile)
    except tomllib.TOMLDecodeError as exc:
        return [f"Pipfile is not valid TOML: {exc}"]
    try:
        locked = json.loads(lock)
        recorded = locked["_meta"]["hash"]["sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return [f"Pipfile.lock has no readable _meta.hash.sha256 ({type(exc).__name__})"]
    problems = []
    for section, category in (("packages", "default"), ("dev-packages", "develop")):
        pins = {_canonical(k): v for k, v in (locked.get(category) or {}).items()}
        for name, spec in (raw.get(section) or {}).items():
            problem = _pin_problem(_canonical(name), spec, pins, category)
            if problem:
                problems.append(problem)
    if recorded != expected:
        problems.append(
            f"Pipfile.lock is out of date with Pipfile (lock hash {recorded[:12]}…, "
            f"Pipfile hashes to {expected[:12]}…)"
        )
    return problems


def _pin_problem(name: str, spec: object, pins: dict, category: str) -> str | None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    entry = pins.get(name)
    if not isinstance(entry, dict):
        return f"`{name}` is in Pipfile but not in Pipfile.lock's `{category}`"
    wanted = spec.get("version", "*") if isinstance(spec, dict) else str(spec)
    if isinstance(spec, dict) and any(k in spec for k in ("git", "path", "file", "editable")):
        return None  # a VCS or local requirement has no version to compare
    version = str(entry.get("version", ""))
    if not version.startswith("=="):
        return f"`{name}` is not pinned in Pipfile.lock (version {version or 'missing'})"
    if wanted in ("*", ""):
        return None
    try:
        allowed = SpecifierSet(wanted)
    except InvalidSpecifier:
        return f"`{name}`'s Pipfile specifier `{wanted}` is not valid"
    if not allowed.contains(version[2:], prereleases=True):
        return f"`{name}` is locked at {version[2:]}, which Pipfile's `{wanted}` does not allow"
    return None


def handles(settings_directors: list[str]) -> set[str]:
    """The directors as comparable handles: lower case, without the leading `@`."""
    return {d.lower().lstrip("@") for d in settings_directors}


def check(repo: Repo) -> Iterator[Violation]:
    """Check the lock's hash and the CODEOWNERS lines for Pipfile and Pipfile.lock."""
    if "Pipfile" not in repo.fileset:
        return
    if "Pipfile.lock" not in repo.fileset:
        yield Violation("Pipfile.lock", 1, PIPFILE_LOCK.id, "Pipfile has no Pipfile.lock")
    else:
        for problem in lock_problems(repo.text("Pipfile"), repo.text("Pipfile.lock")):
            yield Violation("Pipfile.lock", 1, PIPFILE_LOCK.id, problem)
    owners_path = ".github/CODEOWNERS"
    if owners_path not in repo.fileset:
        yield Violation(owners_path, 1, PIPFILE_OWNER.id, "missing: it must name the director for Pipfile")
        return
    directors = handles(repo.settings["directors"])
    lines = repo.text(owners_path).splitlines()
    targets = list(repo.settings.get("director_paths") or ["Pipfile", "Pipfile.lock"])
    for target in targets:
        owned = False
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if fields and fields[0].strip("/") == target.strip("/"):
                owned = bool({f.lower().lstrip("@") for f in fields[1:]} & directors)
        if not owned:
            yield Violation(owners_path, 1, PIPFILE_OWNER.id, f"no line gives /{target} to a director")
