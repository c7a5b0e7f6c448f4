"""Repository-wide promises: every file of this tree passes its own style gates and its rules,
so a commit that skipped pre-commit still fails CI."""

import subprocess
from pathlib import Path

from conftest import PYTHON, ROOT

RUFF = str(Path(PYTHON).parent / "ruff")


def test_every_python_file_passes_ruff_check_and_format():
    # The files the pre-commit hooks judge: Python sources tracked by git (not docs' code blocks).
    listed = subprocess.run(["git", "ls-files", "*.py", "*.pyi"], cwd=ROOT, capture_output=True, text=True)
    files = listed.stdout.split() if listed.returncode == 0 else ["."]  # a copy without .git: walk it
    for args in (["check", "--force-exclude"], ["format", "--check", "--force-exclude"]):
        done = subprocess.run([RUFF, *args, *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


def test_make_lint_passes():
    """`make lint` itself (ruff check + format check of the whole tree, Markdown code blocks included
    where ruff formats them), so CI fails whenever `make lint` would; `-o` keeps make from syncing."""
    done = subprocess.run(["make", "-o", ".venv/.synced", "lint"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ruff format --check ." in done.stdout  # the target really ran both checks


def test_the_repository_breaks_none_of_its_rules():
    done = subprocess.run(
        [PYTHON, "-m", "mlrepo", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("check: 0 problems in ")


def test_make_train_says_the_runners_own_exit_code():
    """GNU make exits 2 on any failure; `make train` prints the runner's own code first (README)."""
    done = subprocess.run(["make", "-o", ".venv/.synced", "train", "PIPELINE=no_such_pipeline"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "Unknown pipeline 'no_such_pipeline'" in done.stderr and "Traceback" not in done.stderr
    assert "python -m train exited 2 (1 the run failed; 2 a mistake in the command" in done.stderr
