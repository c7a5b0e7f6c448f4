"""Render a template folder the way copier does: Jinja2 in file and folder names and in `*.jinja` files.

A template is a folder under `mlrepo/new/templates/`; every path inside it is a Jinja2 string
(`models/{{ name }}/model.py.jinja`), a `.jinja` file's text is rendered and the suffix
dropped, any other file is copied as it is, and a path that renders empty is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlrepo.errors import UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
"""Where every kind's template folder lives: `templates/<kind>/`."""
SUFFIX = ".jinja"


def render(template: str | Path, context: dict[str, Any]) -> dict[str, bytes]:
    """Render the template folder `template` (a kind's name or a path) with `context`.

    Args:
        template: `dataset`, `model`... (a folder under `TEMPLATES`) or a folder path.
        context: the values the templates name.

    Returns:
        `{relative path: content}` in path order, the paths rendered and `.jinja` dropped.
    """
    folder = Path(template) if isinstance(template, Path) else TEMPLATES / template
    sources = {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    return render_sources(sources, context)


def render_sources(sources: dict[str, bytes], context: dict[str, Any]) -> dict[str, bytes]:
    """Render templates given as `{relative path: content}` (a template folder read from a git commit).

    Same rules as `render`: names are templates, `.jinja` files are rendered, others copied.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.DictLoader({path: content.decode("utf-8") for path, content in sources.items()
                                  if path.endswith(SUFFIX)}),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )  # fmt: skip
    rendered: dict[str, bytes] = {}
    for relative in sorted(sources):
        target = env.from_string(relative).render(context)
        if not target or target.endswith("/") or "//" in target:
            continue
        if target.endswith(SUFFIX):
            rendered[target[: -len(SUFFIX)]] = env.get_template(relative).render(context).encode("utf-8")
        else:
            rendered[target] = sources[relative]
    return rendered


@dataclass
class Plan:
    """What a `new` command writes.

    Attributes:
        create: `{relative path: content}` of files that must not exist yet.
        append: `{relative path: content}` added at the end of files that may exist (dvc.yaml).
        executable: relative paths to mark executable.
    """

    create: dict[str, bytes] = field(default_factory=dict)
    append: dict[str, bytes] = field(default_factory=dict)
    executable: set[str] = field(default_factory=set)


def write(root: Path, plan: Plan) -> list[str]:
    """Write `plan` under `root`, refusing to overwrite anything.

    Returns:
        The paths written, relative to `root`.

    Raises:
        UserError: a file to create exists already (nothing is written then).
    """
    existing = sorted(path for path in plan.create if (root / path).exists())
    if existing:
        shown = ", ".join(existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise UserError(f"Nothing written: {shown} already exist(s). Choose another name or remove it first.")
    for path, content in plan.create.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for path, content in plan.append.items():
        target = root / path
        before = target.read_bytes() if target.exists() else b""
        if before and not before.endswith(b"\n"):
            before += b"\n"
        target.write_bytes(before + content)
    for path in plan.executable:
        (root / path).chmod(0o755)
    return [*plan.create, *plan.append]
