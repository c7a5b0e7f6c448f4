"""Build the HTML documentation (`make docs`): pdoc API pages, the landing page and the guides.

Diagrams (mermaid) and formulas (MathJax) render offline: the scripts are vendored in
`docs/vendor/` and copied next to the HTML, and `docs/templates/` points pdoc's pages at them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlrepo import ROOT
from mlrepo.errors import UserError

#: The packages documented; deploy folders have no `__init__.py` and are left out on purpose.
PACKAGES = ("mlrepo", "datasets", "models", "train")
DOCS_DIR = ROOT / "docs"
DEFAULT_OUT = DOCS_DIR / "_build"
#: Written into every build folder, so that a rebuild only ever deletes a folder it made.
MARKER = ".mlrepo-docs"
#: Vendored file -> where it goes in the build (templates load it from `_static/`).
ASSETS = {
    "mermaid/mermaid.min.js": "_static/mermaid/mermaid.min.js",
    "mermaid/LICENSE": "_static/mermaid/LICENSE",
    "mathjax/tex-svg.js": "_static/mathjax/tex-svg.js",
    "mathjax/LICENSE": "_static/mathjax/LICENSE",
    "VERSIONS": "_static/VERSIONS",
}
CONFIG_TREE_MARKER = "<!-- config-tree -->"


@dataclass(frozen=True)
class Guide:
    """A hand-written guide, `docs/guides/<name>.md`, rendered to `guides/<name>.html`.

    Args:
        title: the text of its first `# ` heading (the file name when it has none).
        href: its page, relative to the documentation root.
        html: its body rendered from markdown.
        toc_html: its table of contents.
    """

    title: str
    href: str
    html: str
    toc_html: str


def modules(root: Path = ROOT, packages: Sequence[str] = PACKAGES) -> list[str]:
    """List the modules to document, found from the files (nothing is imported).

    Every public module of every package is listed explicitly, so that a package's `__all__`
    (which pdoc honours when walking submodules) does not hide its submodules' pages.
    `__main__` and `_private` modules are skipped, and so are folders without `__init__.py`.

    Args:
        root: the repository root.
        packages: the top-level packages.

    Returns:
        Dotted module names, sorted.
    """
    found: list[str] = []
    for package in packages:
        base = root / package
        if not (base / "__init__.py").is_file():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if any(part.startswith("_") for part in parts):
                continue
            # A module counts only if every folder on its way is a package.
            folders = [root.joinpath(*parts[:i]) for i in range(1, len(path.relative_to(root).parts))]
            if all((folder / "__init__.py").is_file() for folder in folders):
                found.append(".".join(parts))
    return sorted(set(found))


def config_tree(conf_dir: Path) -> str:
    """Draw the Hydra config tree as a mermaid flowchart, read from `conf/config.yaml`.

    The numbered edges follow the `defaults:` list, which is the merge order: later wins, and
    the command line wins over everything. Each group shows its options (its YAML files).

    Args:
        conf_dir: the config tree (`conf/`).

    Returns:
        The mermaid source (without the fence).

    Raises:
        UserError: `conf/config.yaml` is missing or has no `defaults:` list.
    """
    import yaml

    config_file = conf_dir / "config.yaml"
    if not config_file.is_file():
        raise UserError(f"No {config_file}: the landing page draws the config tree from it.")
    defaults = (yaml.safe_load(config_file.read_text()) or {}).get("defaults")
    if not isinstance(defaults, list):
        raise UserError(f"{config_file} has no `defaults:` list, so there is no config tree to draw.")
    lines = ["flowchart LR", '    config["conf/config.yaml"]']
    step = 0
    for entry in defaults:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue  # `_self_`: the root config's own keys, merged where it stands
        ((group, choice),) = entry.items()
        if not isinstance(group, str) or group.startswith("override ") or "/" in group:
            continue  # Hydra's own settings (hydra/job_logging), not part of the project's tree
        step += 1
        node = re.sub(r"\W", "_", group)
        label = "required: choose one" if choice == "???" else f"default: {choice}"
        lines.append(f'    config -->|{step}| {node}["conf/{group}/<br/>({label})"]')
        for option in sorted(p.stem for p in (conf_dir / group).glob("*.yaml")):
            option_node = node + "_" + re.sub(r"\W", "_", option)
            lines.append(f'    {node} --- {option_node}["{option}"]')
    lines.append(f'    config -->|{step + 1}, wins| cli["command line<br/>key=value overrides"]')
    return "\n".join(lines)


def landing_markdown(docs_dir: Path, conf_dir: Path) -> str:
    """The landing page's markdown: `docs/index.md` with the config tree drawn in.

    Args:
        docs_dir: the `docs/` folder.
        conf_dir: the config tree.

    Returns:
        Markdown, with the line `<!-- config-tree -->` replaced by the mermaid diagram.
    """
    text = (docs_dir / "index.md").read_text(encoding="utf-8")
    return text.replace(CONFIG_TREE_MARKER, f"```mermaid\n{config_tree(conf_dir)}\n```")


def _md_links_to_html(html: str) -> str:
    # Guides link each other as `other.md`; on the site they are `other.html`.
    return re.sub(r'href="(?![a-z]+:)([^"#]+)\.md(#[^"]*)?"', r'href="\1.html\2"', html)


def guides(docs_dir: Path) -> list[Guide]:
    """Render every `docs/guides/*.md` (those that exist), sorted by file name.

    Args:
        docs_dir: the `docs/` folder.

    Returns:
        The guides, with their HTML.
    """
    from pdoc.render_helpers import to_html

    found = []
    for path in sorted((docs_dir / "guides").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        heading = re.search(r"^# (.+)$", text, flags=re.MULTILINE)
        html = to_html(text)
        found.append(
            Guide(
                title=heading.group(1).strip() if heading else path.stem,
                href=f"guides/{path.stem}.html",
                html=_md_links_to_html(str(html)),
                toc_html=getattr(html, "toc_html", None) or "",
            )
        )
    return found


def _prepare(out: Path) -> None:
    # Start from an empty folder so a removed module leaves no stale page, but never delete a
    # folder this build did not make.
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file()):
            raise UserError(
                f"{out} exists and is not a documentation build (no {MARKER} file in it): "
                "choose an empty or new output folder, or remove it yourself."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("Built by `make docs` (python -m mlrepo.docs); safe to delete.\n")


def _render_api(names: Sequence[str], out: Path) -> None:
    # `pdoc.pdoc()` with these names, minus its walk into submodules: every module is named
    # already, and walking again would add each one twice.
    import pdoc.doc
    import pdoc.render

    all_modules = {name: pdoc.doc.Module.from_name(name) for name in names}
    for module in all_modules.values():
        page = out / f"{module.fullname.replace('.', '/')}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_bytes(pdoc.render.html_module(module, all_modules).encode())
    (out / "index.html").write_bytes(pdoc.render.html_index(all_modules).encode())
    (out / "search.js").write_bytes(pdoc.render.search_index(all_modules).encode())


def build(out: Path = DEFAULT_OUT, root: Path = ROOT) -> list[Path]:
    """Build the whole site into `out`: API pages, landing page, guides and vendored scripts.

    The output is deterministic: the same tree gives the same bytes.

    Args:
        out: the output folder; replaced if it holds a previous build, refused otherwise.
        root: the repository root (its `docs/`, `conf/` and packages).

    Returns:
        The files written, sorted.

    Raises:
        UserError: a vendored script is missing, or `out` is some other folder.
    """
    import pdoc.render

    docs_dir = root / "docs"
    vendor = docs_dir / "vendor"
    missing = [name for name in ASSETS if not (vendor / name).is_file()]
    if missing:
        raise UserError(
            f"Missing vendored docs assets in {vendor}: {', '.join(missing)}. "
            "Run scripts/vendor-docs-assets.sh (needs npm) to fetch them."
        )
    out = out.resolve()
    _prepare(out)
    found_guides = guides(docs_dir)
    pdoc.render.configure(
        docformat="google",
        math=True,
        mermaid=True,
        search=True,
        show_source=True,
        template_directory=docs_dir / "templates",
        footer_text="Governed ML monorepo",
    )
    from pdoc.render_helpers import to_html

    pdoc.render.env.globals["guides"] = found_guides
    pdoc.render.env.globals["landing_html"] = str(to_html(landing_markdown(docs_dir, root / "conf")))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # pdoc imports the packages by name, from this tree
    _render_api(modules(root), out)

    template = pdoc.render.env.get_template("guide.html.jinja2")
    for guide in found_guides:
        page = out / guide.href
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(template.render(guide=guide, docs_root="../", module=None), encoding="utf-8")
    for name, target in ASSETS.items():
        (out / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(vendor / name, out / target)
    return sorted(p for p in out.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python -m mlrepo.docs [--out DIR]`; prints where the site is.

    Returns:
        The exit code: 0 built, 2 a user mistake (reported in one paragraph).
    """
    parser = argparse.ArgumentParser(prog="python -m mlrepo.docs", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: docs/_build)")
    args = parser.parse_args(argv)
    try:
        files = build(args.out)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    index = args.out.resolve() / "index.html"
    print(f"Built {len(files)} files; open {index.as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
