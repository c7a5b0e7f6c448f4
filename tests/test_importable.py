"""The repository's packages import from any folder (an editable install of the repository into
.venv), so no generated or user file edits `sys.path`, BentoML's own commands work from inside a
deploy folder, and `pr-check` still never imports the head's code."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT
from deploy_support import DEPLOY, free_port, running, trained_deploy, wait_http
from gates_support import commit, git, make_pr_repo, mlrepo

USER_TREES = ("datasets", "models", "train", "deploy", "mlrepo/new/templates", "mlrepo/ship")
"""Where users' files and the files that generate them live: none of them may touch sys.path."""


def _no_pythonpath() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(BENTOML_DO_NOT_TRACK="true", MLFLOW_DISABLE_TELEMETRY="true")
    return env


def test_packages_import_from_any_folder(tmp_path: Path) -> None:
    """From a folder outside the repository, with no PYTHONPATH: mlrepo and a model import."""
    done = subprocess.run(
        [PYTHON, "-c", "import mlrepo, models.IrisClassifier, datasets.iris, train; print(mlrepo.__file__)"],
        cwd=tmp_path, env=_no_pythonpath(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent.name == "mlrepo"


def test_no_generated_or_user_file_edits_sys_path() -> None:
    """The sys.path lines are gone: users' folders and their templates import the installed packages."""
    pattern = re.compile(r"sys\.path\.(insert|append)|PYTHONPATH")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for tree in USER_TREES
        for path in sorted((ROOT / tree).rglob("*"))
        if path.is_file() and path.suffix in {".py", ".jinja", ".ipynb", ".sh"}
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line) and "deploy.py" not in path.name
    ]
    assert not found, found


@pytest.mark.slow
def test_bentoml_serve_and_build_from_inside_the_deploy_folder(tmp_path_factory, tmp_path: Path) -> None:
    """`cd deploy/IrisClassifier/V1 && python -m bentoml serve service:IrisClassifier` answers
    /readyz and predicts, and `bentoml build` there builds a Bento, as BentoML documents them."""
    env = {**trained_deploy(tmp_path_factory), **{}}
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    port = free_port()
    args = [PYTHON, "-m", "bentoml", "serve", "service:IrisClassifier", "--host", "127.0.0.1",
            "--port", str(port)]  # fmt: skip
    with running(args, tmp_path / "serve.log", cwd=DEPLOY, env=env) as proc:
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", 120, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{(tmp_path / 'serve.log').read_text()[-3000:]}") from exc
    built = subprocess.run([PYTHON, "-m", "bentoml", "build", "-o", "tag", "."], cwd=DEPLOY, env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0 and "__tag__:iris_classifier:" in built.stdout, built.stdout + built.stderr


@pytest.mark.slow
def test_pr_check_never_imports_the_heads_code(tmp_path: Path) -> None:
    """A head that ships modules named like the checker's imports (pre_commit, yaml, mlrepo):
    pr-check reads them as data and runs the base's code; none of the head's modules runs."""
    repo = make_pr_repo(tmp_path / "repo")
    marker = tmp_path / "imported"
    trap = f'"""Trap."""\n\nfrom pathlib import Path\n\nPath({str(marker)!r}).write_text(__name__)\n'
    git(repo, "checkout", "-q", "-b", "feature/trap")
    for rel in ("pre_commit/__init__.py", "pre_commit/__main__.py", "yaml.py", "omegaconf.py"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(trap)
    init = repo / "mlrepo" / "__init__.py"
    init.write_text(init.read_text() + "\n" + trap.split("\n\n", 1)[1])
    commit(repo, "a head whose modules would run if imported")
    git(repo, "checkout", "-q", "main")
    done = mlrepo("pr-check", "--base", "main", "--head", "feature/trap", "--root", str(repo), cwd=repo)
    assert "Traceback" not in done.stderr, done.stderr
    assert not marker.exists(), f"pr-check imported the head's {marker.read_text()}: {done.stdout}"
