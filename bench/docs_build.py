"""How long `make docs` takes: the whole site (API pages, landing page, guides, assets).

Runs `python -m mlrepo.docs` (what `make docs` runs) in a fresh process N times into a
throwaway folder and prints the median and worst wall time (target < 20 s), plus the site's
size. A fresh process each time, so module imports are counted as a user pays them.

    .venv/bin/python bench/docs_build.py [--repeat 3]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 20.0


def build_once(out: Path) -> float:
    """Build the docs into `out` and return the wall time; fail loudly if the build fails."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlrepo.docs", "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"docs build failed:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "site"
        times = [build_once(out) for _ in range(args.repeat)]
        files = [p for p in out.rglob("*") if p.is_file()]
        pages = sum(1 for p in files if p.suffix == ".html")
        size_mb = sum(p.stat().st_size for p in files) / 1e6
    median = statistics.median(times)
    print(f"docs build (mlrepo.docs), {args.repeat} runs: median {median:.2f} s, max {max(times):.2f} s")
    print(f"site: {pages} HTML pages, {len(files)} files, {size_mb:.1f} MB")
    print(f"target < {TARGET_S:.0f} s: {'met' if max(times) < TARGET_S else 'MISSED'}")


if __name__ == "__main__":
    main()
