"""`make docs`: what it documents, the config-tree diagram, its errors, and identical output twice."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT
from docs_support import docs_checkout, make_docs, tree_digest

from mlrepo import docs
from mlrepo.errors import UserError

CDN = re.compile(r"(?:src|href)=\"https?://[^\"]*(?:jsdelivr|unpkg|cdnjs|mathjax|mermaid)", re.IGNORECASE)


def test_modules_found_from_files_without_deploy_or_main():
    names = docs.modules()
    assert {"mlrepo", "mlrepo.run.config", "models.IrisClassifier", "train.iris.pipeline"} <= set(names)
    assert "mlrepo.docs" in names  # hidden by mlrepo.__all__ from pdoc's own walk, listed here
    assert names == sorted(names)
    assert not [n for n in names if n.startswith("deploy") or "__main__" in n or "._" in n]


def test_modules_skip_folders_that_are_not_packages(tmp_path: Path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "loose").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('"""A package."""\n')
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text('"""A subpackage."""\n')
    for name in ("pkg/a.py", "pkg/_private.py", "pkg/__main__.py", "pkg/sub/b.py", "pkg/loose/c.py"):
        (tmp_path / name).write_text('"""A module."""\n')
    assert docs.modules(tmp_path, ("pkg", "absent")) == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"]


def test_config_tree_follows_the_defaults_list_and_lists_every_option():
    tree = docs.config_tree(ROOT / "conf")
    assert tree.startswith("flowchart LR")
    order = [tree.index(f"|{i}| {group}") for i, group in enumerate(("paths", "pipeline", "branch"), 1)]
    assert order == sorted(order)
    groups = len(re.findall(r"config -->\|\d+\|", tree))
    assert f"|{groups + 1}, wins| cli" in tree  # the command line comes last
    assert "required: choose one" in tree  # pipeline: ???
    for group in ("pipeline", "branch", "paths"):
        for option in (ROOT / "conf" / group).glob("*.yaml"):
            assert f'["{option.stem}"]' in tree, option
    assert "hydra" not in tree  # Hydra's own overrides are not the project's tree


def test_config_tree_without_defaults_is_a_user_error(tmp_path: Path):
    (tmp_path / "config.yaml").write_text("a: 1\n")
    with pytest.raises(UserError, match="no `defaults:` list"):
        docs.config_tree(tmp_path)
    with pytest.raises(UserError, match="No .*config.yaml"):
        docs.config_tree(tmp_path / "missing")


def test_guides_are_rendered_with_md_links_rewritten(tmp_path: Path):
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "b-deploy.md").write_text("# Deploy\n\nSee [runs](a-runs.md#sweeps).\n")
    (tmp_path / "guides" / "a-runs.md").write_text("No heading, [site](https://example.com/x.md).\n")
    found = docs.guides(tmp_path)
    assert [(g.title, g.href) for g in found] == [
        ("a-runs", "guides/a-runs.html"),
        ("Deploy", "guides/b-deploy.html"),
    ]
    assert 'href="a-runs.html#sweeps"' in found[1].html
    assert 'href="https://example.com/x.md"' in found[0].html


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    assert docs.main(["--out", str(precious)]) == 2
    err = capsys.readouterr().err
    assert "is not a documentation build" in err and "Traceback" not in err
    assert (precious / "notes.txt").read_text() == "keep me"


def test_missing_vendored_assets_say_how_to_fetch_them(tmp_path: Path):
    (tmp_path / "docs" / "vendor").mkdir(parents=True)
    with pytest.raises(UserError, match="scripts/vendor-docs-assets.sh"):
        docs.build(tmp_path / "out", root=tmp_path)
    assert not (tmp_path / "out").exists()


def test_vendored_assets_carry_their_licences():
    vendor = ROOT / "docs" / "vendor"
    assert "MIT License" in (vendor / "mermaid" / "LICENSE").read_text()
    assert "Apache License" in (vendor / "mathjax" / "LICENSE").read_text()
    assert "mermaid 11." in (vendor / "VERSIONS").read_text()


@pytest.mark.slow
def test_make_docs_on_a_clean_copy_is_offline_and_deterministic(tmp_path: Path):
    repo = docs_checkout(tmp_path / "repo")
    guides = repo / "docs" / "guides"
    guides.mkdir(exist_ok=True)
    (guides / "zz-test-guide.md").write_text("# A test guide\n\nBack to [deploy](deploy.md). $e^{i\\pi}$\n")

    first = make_docs(repo)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "open file://" in first.stdout
    site = repo / "docs" / "_build"
    digest = tree_digest(site)
    (site / "stale.html").write_text("left by an old build")
    second = make_docs(repo)
    assert second.returncode == 0, second.stdout + second.stderr
    assert tree_digest(site) == digest  # same bytes, and the stale page is gone

    pages = [p for p in site.rglob("*.html")]
    assert not [p for p in pages if CDN.search(p.read_text())], "a page still loads a script from a CDN"
    model = (site / "models" / "IrisClassifier.html").read_text()
    assert '<div class="mermaid">classDiagram' in model
    assert 'src="../_static/mermaid/mermaid.min.js"' in model
    assert 'src="../_static/mathjax/tex-svg.js"' in model
    assert (site / "_static" / "mermaid" / "mermaid.min.js").stat().st_size > 1_000_000
    assert (site / "_static" / "mathjax" / "LICENSE").is_file()
    # deploy/<Model>/V<n>/ has no __init__.py: no page for it (mlrepo/ship/deploy.py and the guide are fine)
    assert not (site / "deploy").exists() and not (site / "deploy.html").exists()
    assert not list(site.rglob("create_bento_model*")) and not list(site.rglob("*IrisClassifier/V1*"))

    index = (site / "index.html").read_text()
    assert '<div class="mermaid">flowchart LR' in index  # the config tree
    assert "Add a dataset" in index and "Sweep hyper-parameters" in index
    assert 'href="guides/zz-test-guide.html"' in index
    guide = (site / "guides" / "zz-test-guide.html").read_text()
    assert 'href="deploy.html"' in guide and 'src="../_static/mathjax/tex-svg.js"' in guide
    assert shutil.which("make")
