"""Benchmark: `python -m mlrepo check` wall time on this repository and on a generated 500×500×500 monorepo.

Run `.venv/bin/python bench/check.py [--n 500] [--repeat 3]`; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b",
       "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip


def generate(dest: Path, n: int) -> None:
    """Write a compliant git monorepo of `n` models, `n` datasets and `n` pipelines into `dest`."""
    model_init = (ROOT / "models/IrisClassifier/__init__.py").read_text()
    model_py = (ROOT / "models/IrisClassifier/model.py").read_text()
    for rel in ("conf/governance.yaml", "Pipfile", "Pipfile.lock", ".github/CODEOWNERS"):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    for i in range(n):
        name = f"Model{i}"
        files = {
            f"models/{name}/__init__.py": model_init.replace("IrisClassifier", name),
            f"models/{name}/model.py": model_py.replace("IrisClassifier", name),
            f"models/{name}/common.py": '"""Helpers."""\n\nDEFAULT_C = 1.0\n',
            f"datasets/set{i}/__init__.py": '"""A dataset."""\n',
            f"datasets/set{i}/dataset.py": f'"""Create set{i}."""\n\n\ndef load() -> list:\n    """Rows."""\n'
            "    return []\n",
            f"datasets/set{i}/common.py": '"""Names."""\n',
            f"train/p{i}/__init__.py": '"""A pipeline."""\n',
            f"train/p{i}/pipeline.py": '"""Train."""\n\nfrom omegaconf import DictConfig\n\n\n'
            'def train(config: DictConfig) -> dict:\n    """Train."""\n    return dict(config)\n',
            f"conf/pipeline/train_p{i}.yaml": f"# @package _global_\npipeline:\n  name: train_p{i}\n"
            f"  code: p{i}\n  model: {name}\n",
        }
        for rel, text in files.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "generated"]):
        subprocess.run(["git", *args], cwd=dest, check=True, env=ENV)


def wall(root: Path, repeat: int) -> tuple[float, int]:
    """Median wall time (s) of `python -m mlrepo check --root root` in a fresh process, and its exit code."""
    times, code = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mlrepo", "check", "--root", str(root)], cwd=ROOT,
                              capture_output=True, text=True)  # fmt: skip
        times.append(time.perf_counter() - start)
        code = done.returncode
        if code not in (0, 1):
            raise SystemExit(done.stderr)
    return statistics.median(times), code


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    seconds, code = wall(ROOT, args.repeat)
    print(f"this repository        : {seconds:.3f} s (median of {args.repeat}, exit {code})")
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "mono"
        start = time.perf_counter()
        generate(dest, args.n)
        made = time.perf_counter() - start
        files = len(
            subprocess.run(["git", "ls-files"], cwd=dest, capture_output=True, text=True).stdout.split()
        )
        seconds, code = wall(dest, args.repeat)
        shape = f"{args.n} models, {args.n} datasets, {args.n} pipelines, {files} files"
        print(f"generated monorepo     : {shape} (generated in {made:.1f} s)")
        print(
            f"check on the monorepo  : {seconds:.3f} s (median of {args.repeat}, exit {code}; target < 2 s)"
        )


if __name__ == "__main__":
    main()
