"""Rules on substance: the users' code and docs say something (no placeholder left to fill).

A scaffold (`python -m mlrepo new ...`) writes `TODO` and `<describe ...>` where its author must
write; this rule lists each such place, one violation per line, so the list is the to-do list.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from mlrepo.govern.checks.base import Repo, Rule, Violation

PLACEHOLDER = Rule(
    "PLACEHOLDER",
    "datasets/, models/, train/ and deploy/ hold no placeholder (TODO, TBD, FIXME, XXX, a line `...`, "
    "`<describe ...>`-style text, an empty docstring) and each model section has a minimum of real words",
    "write the real code or text in its place (the message says what is missing; minimum words per "
    "section: conf/governance.yaml `min_words`)",
)
RULES = (PLACEHOLDER,)
"""The rules of this family."""

_VERBS = (
    "describe|explain|write|fill|insert|add|your|placeholder|todo|tbd|summary|motivation|description"
    "|explanation"
)
PATTERN = re.compile(
    r"\b(?P<word>TODO|TBD|FIXME|XXX)\b"
    r"|(?P<angle><\s*(?:" + _VERBS + r")\b[^<>\n]*>)"
    r"|^(?P<dots>[ \t]*(?:\.\.\.|…)[ \t]*)$"
    r"|(?P<empty>(?:\"\"\"|''')[ \t]*\n?[ \t]*(?:\.\.\.|…)?[ \t]*\n?[ \t]*(?:\"\"\"|'''))",
    re.MULTILINE | re.IGNORECASE,
)
"""One placeholder: a marker word, an angle-bracket instruction, a line of `...`, an empty docstring."""
_QUICK = ("TODO", "TBD", "FIXME", "XXX", "<", "...", "…", '""""', "''''", '""" """', '"""..."""')
_WORD = re.compile(r"[^\W\d_]{2,}")
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_TEMPLATE = re.compile(r"<[^<>\n]*>|`[^`\n]*`")


def real_words(text: str) -> int:
    """How many real words `text` has: placeholders, `<...>`, code spans and fenced blocks left out."""
    text = _FENCE.sub(" ", text)
    text = PATTERN.sub(" ", text)
    text = _TEMPLATE.sub(" ", text)
    return len(_WORD.findall(text))


def placeholders(text: str) -> Iterator[tuple[int, str]]:
    """Each line of `text` that holds a placeholder, once, with what it is.

    Args:
        text: a file's text.

    Returns:
        `(line, description)` pairs, in line order.
    """
    if not any(quick in text for quick in _QUICK):
        return
    seen = set()
    for match in PATTERN.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if line in seen:
            continue
        seen.add(line)
        if match.group("word"):
            what = f"`{match.group('word')}`"
        elif match.group("angle"):
            what = f"`{match.group('angle')}`"
        elif match.group("dots"):
            what = "a line that is only `...`"
        else:
            what = "an empty docstring"
        yield line, what


def _section_texts(doc: str) -> list[tuple[str, str, str]]:
    """The `(section, heading line text, body)` of each known heading of a model docstring."""
    from mlrepo.govern.checks.models import _HEADING, SECTIONS, _plain

    found = []
    matches = list(_HEADING.finditer(doc))
    for i, match in enumerate(matches):
        section = SECTIONS.get(_plain(match.group(1)))
        if section is None:
            continue
        end = matches[i + 1].start() if i + 1 < len(matches) else len(doc)
        found.append((section, match.group(0).strip(), doc[match.end() : end]))
    return found


def check(repo: Repo) -> Iterator[Violation]:
    """Report every placeholder in the users' Python files and every model section without substance."""
    tops = tuple(top.rstrip("/") + "/" for top in repo.settings.get("substance", ()))
    for path in repo.files:
        if not path.endswith(".py") or not path.startswith(tops):
            continue
        for line, what in placeholders(repo.text(path)):
            yield Violation(path, line, PLACEHOLDER.id, f"{what}: a placeholder left to fill")
    minimum = repo.settings.get("min_words", {})
    for name, files in sorted(repo.children("models").items()):
        if name.startswith((".", "_")) or "__init__.py" not in files or "models/" not in tops:
            continue
        path = f"models/{name}/__init__.py"
        tree = repo.tree(path)
        doc = ast.get_docstring(tree, clean=False) if tree is not None else None
        if not doc:
            continue
        source = repo.text(path)
        for section, heading, body in _section_texts(doc):
            need = int(minimum.get(section, 0))
            have = real_words(body)
            if have < need:
                at = source.find(heading)
                line = source.count("\n", 0, at) + 1 if at >= 0 else 1
                yield Violation(
                    path,
                    line,
                    PLACEHOLDER.id,
                    f"section {section} has {have} real word(s), fewer than {need}: say it in words",
                )
