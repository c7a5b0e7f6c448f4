"""`python -m mlrepo new project` / `new update`: another team's repository, checked, trained, updated."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import PYTHON, ROOT, runs, train

pytestmark = pytest.mark.slow

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A command in `cwd` with a git identity, output captured."""
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **GIT_ENV})  # fmt: skip


def new_project(dest: Path, *extra: str, source: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m mlrepo new project dest --name ... extra`, from the template `source`."""
    return run(ROOT, PYTHON, "-m", "mlrepo", "new", "project", str(dest), "--name", "Acme Vision",
               "--description", "Acme sees shelves and counts what is missing.", "--director", "alice",
               "--from", str(source), *extra)  # fmt: skip


def with_venv(project: Path) -> Path:
    """Let the project use this repository's locked environment (a symlink, not a second install)."""
    (project / ".venv").symlink_to(ROOT / ".venv")
    return project


def test_a_project_with_the_example_passes_its_check_and_trains_iris(tmp_path, tracking_uri):
    dest = tmp_path / "acme"
    done = new_project(dest, "--region", "eu-west-1", "--ecr-prefix", "acme/", "--tracking-uri",
                       "http://mlflow.acme.internal:5000")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (dest / "README.md").read_text().startswith("# Acme Vision\n\nAcme sees shelves")
    assert yaml.safe_load((dest / "conf/governance.yaml").read_text())["directors"] == ["@alice", "alice"]
    assert "/Pipfile                  @alice" in (dest / ".github/CODEOWNERS").read_text()
    production = yaml.safe_load((dest / "conf/branch/production.yaml").read_text())
    assert production["tracking"]["uri"] == "http://mlflow.acme.internal:5000"
    assert "AWS_DEFAULT_REGION=eu-west-1" in (dest / ".env.example").read_text()
    answers = yaml.safe_load((dest / ".mlrepo-answers.yml").read_text())
    head = run(ROOT, "git", "rev-parse", "HEAD").stdout.strip()
    assert answers["_commit"] == head and answers["ecr_prefix"] == "acme/" and answers["examples"] is True
    for path in ("mlrepo/run/runner.py", "Makefile", "mk/new.mk", ".pre-commit-config.yaml", "Pipfile.lock",
                 "docs/vendor", "tests/conftest.py", ".ci/run", "datasets/iris/dataset.py"):  # fmt: skip
        assert (dest / path).exists(), path
    assert (
        not (dest / "datasets/digits").exists() and not (dest / "conf/pipeline/cnnv1-digitsv1.yaml").exists()
    )
    assert os.access(dest / ".ci/run", os.X_OK)
    assert run(dest, "git", "status", "--porcelain").stdout == ""  # made as one commit

    with_venv(dest)
    checked = run(dest, str(dest / ".venv/bin/python"), "-m", "mlrepo", "check")
    assert checked.returncode == 0, checked.stdout
    trained = train("pipeline=train_iris", cwd=dest)
    assert trained.returncode == 0, trained.stderr
    (iris,) = runs(tracking_uri, "train_iris")
    assert iris.info.status == "FINISHED" and iris.data.metrics["accuracy"] >= 0.9


def test_a_project_without_examples_checks_clean_and_make_train_says_how_to_start(tmp_path):
    dest = tmp_path / "bare"
    assert new_project(dest, "--no-examples").returncode == 0
    assert not (dest / "datasets/iris").exists() and not (dest / "conf/pipeline").exists()
    assert not any("iris" in p.name.lower() for p in (dest / "tests").iterdir())
    with_venv(dest)
    checked = run(dest, str(dest / ".venv/bin/python"), "-m", "mlrepo", "check")
    assert checked.returncode == 0, checked.stdout
    done = run(dest, "make", "-o", ".venv/.synced", "train")  # -o: never re-sync the shared .venv
    assert done.returncode == 2
    assert "There is no pipeline yet" in done.stderr and "make new-pipeline" in done.stderr


def test_an_existing_folder_is_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    done = new_project(tmp_path / "taken")
    assert done.returncode == 2 and "not empty" in done.stderr and "Traceback" not in done.stderr


def test_update_merges_a_later_template_into_local_changes_and_reports_conflicts(tmp_path):
    template = tmp_path / "template"
    run(tmp_path, "git", "clone", "-q", str(ROOT), str(template))
    project = tmp_path / "acme"
    assert new_project(project, "--no-examples", source=template).returncode == 0

    # The team changes the end of mk/new.mk and the top of docs/guides/governance.md.
    mk = project / "mk/new.mk"
    mk.write_text(mk.read_text() + "\n# acme: our own note\n")
    guide = project / "docs/guides/governance.md"
    guide.write_text("Acme's rules first.\n" + guide.read_text())
    assert run(project, "git", "commit", "-qam", "local").returncode == 0
    # The template changes the top of mk/new.mk, the top of the guide (a conflict), and adds a file.
    (template / "mk/new.mk").write_text("# template v2 header\n" + (template / "mk/new.mk").read_text())
    (template / "docs/guides/governance.md").write_text(
        "Template v2 first line.\n" + (template / "docs/guides/governance.md").read_text()
    )
    (template / "scripts/new-in-v2.sh").write_text("#!/usr/bin/env bash\necho v2\n")
    run(template, "git", "add", "-A")
    assert run(template, "git", "commit", "-qm", "v2").returncode == 0

    done = run(project, PYTHON, "-m", "mlrepo", "new", "update")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "conflict: docs/guides/governance.md" in done.stdout and "1 conflict(s)" in done.stdout
    merged = mk.read_text()
    assert merged.startswith("# template v2 header\n") and merged.endswith("# acme: our own note\n")
    assert "<<<<<<< yours" in guide.read_text() and "Template v2 first line." in guide.read_text()
    assert (project / "scripts/new-in-v2.sh").read_text().endswith("echo v2\n")
    new_head = run(template, "git", "rev-parse", "HEAD").stdout.strip()
    assert yaml.safe_load((project / ".mlrepo-answers.yml").read_text())["_commit"] == new_head

    assert run(project, "git", "add", "-A").returncode == 0
    assert run(project, "git", "commit", "-qm", "update").returncode == 0
    again = run(project, PYTHON, "-m", "mlrepo", "new", "update")
    assert again.returncode == 0 and "already at template" in again.stdout


def test_update_refuses_a_dirty_tree_and_a_repository_not_made_by_new_project(tmp_path):
    project = tmp_path / "acme"
    assert new_project(project, "--no-examples").returncode == 0
    (project / "Makefile").write_text("changed\n")
    done = run(project, PYTHON, "-m", "mlrepo", "new", "update")
    assert done.returncode == 2 and "uncommitted changes" in done.stderr
    done = run(ROOT, PYTHON, "-m", "mlrepo", "new", "update", "--root", str(tmp_path))
    assert done.returncode == 2 and ".mlrepo-answers.yml" in done.stderr
