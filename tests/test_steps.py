"""The step cache (`mlrepo.run.steps`): keys, storage, corruption, eviction, locks and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PYTHON, ROOT

from mlrepo.run import steps

CALLS: list[str] = []


@steps.step
def prepare(rows: int, scale: float = 1.0) -> pd.DataFrame:
    """An upstream step: a small table."""
    CALLS.append("prepare")
    return pd.DataFrame({"x": np.arange(rows, dtype="float64") * scale, "y": np.arange(rows) % 3})


@steps.step
def features(frame: pd.DataFrame, power: int = 2) -> tuple[pd.DataFrame, pd.Series]:
    """A downstream step: inputs and labels."""
    CALLS.append("features")
    return frame[["x"]] ** power, frame["y"].rename("label")


@steps.step(ignore=("workdir",))
def mixed(n: int, workdir: str = "/tmp") -> dict:
    """A step returning every kind the cache stores."""
    CALLS.append("mixed")
    return {
        "frame": pd.DataFrame({"a": [1, 2, 3], "c": pd.Categorical(["x", "y", "x"])}, index=[10, 20, 30]),
        "series": pd.Series([1.5, 2.5], name="s"),
        "array": np.arange(n, dtype="int32").reshape(-1, 2),
        "list": [pd.DataFrame({"b": ["u", "v"]}), {"k": (1, "two")}],
        "other": {1: "not a string key"},
    }


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def run_pipeline(folder: Path, rows: int = 10, power: int = 2, **session) -> list[steps.Outcome]:
    with steps.session(folder, **session) as active:
        features(prepare(rows), power=power)
    return active.outcomes


def by_name(outcomes: list[steps.Outcome]) -> dict[str, bool]:
    return {o.name: o.hit for o in outcomes}


def test_a_second_call_with_the_same_inputs_is_a_hit_and_returns_equal_values(tmp_path):
    with steps.session(tmp_path) as active:
        first = features(prepare(10))
    with steps.session(tmp_path) as again:
        second = features(prepare(10))
    assert by_name(active.outcomes) == {"prepare": False, "features": False}
    assert by_name(again.outcomes) == {"prepare": True, "features": True}
    assert CALLS == ["prepare", "features"]
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_series_equal(first[1], second[1])
    assert "reused prepare, features" in again.summary()


def test_config_values_dataset_version_and_upstream_steps_change_the_key(tmp_path):
    run_pipeline(tmp_path)
    # A value the downstream step reads: only it recomputes.
    assert by_name(run_pipeline(tmp_path, power=3)) == {"prepare": True, "features": False}
    # A value the upstream step reads: the change carries down through the upstream key.
    assert by_name(run_pipeline(tmp_path, rows=11)) == {"prepare": False, "features": False}
    # The dataset version enters every key.
    assert by_name(run_pipeline(tmp_path, dataset="v2")) == {"prepare": False, "features": False}
    # Nothing else: same inputs, same keys.
    assert by_name(run_pipeline(tmp_path)) == {"prepare": True, "features": True}


def test_an_upstream_output_is_keyed_by_its_step_not_hashed_again(tmp_path, monkeypatch):
    with steps.session(tmp_path) as active:
        frame = prepare(5)
        monkeypatch.setattr(steps, "content_hash", lambda value: pytest.fail("hashed an upstream output"))
        features(frame)
    assert active.input_key(frame) == {"step": active.outcomes[0].key}


def test_a_whole_tuple_output_passed_on_is_keyed_by_its_items_and_outputs_are_not_kept_alive(tmp_path):
    import gc
    import weakref

    with steps.session(tmp_path) as active:
        pair = features(prepare(4))
        assert active.input_key(pair) == [{"step": f"{active.outcomes[1].key}/{i}"} for i in range(2)]
        frame = prepare(6)
        ref = weakref.ref(frame)
        del frame
        gc.collect()
        assert ref() is None


def test_an_outside_input_is_keyed_by_its_content(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    with steps.session(tmp_path) as active:
        features(frame)
        features(frame.copy())  # another object, the same content: a hit
        changed = frame.copy()
        changed.loc[0, "x"] = 9.0
        features(changed)
    assert [o.hit for o in active.outcomes] == [False, True, False]


def test_ignored_arguments_do_not_change_the_key_and_every_kind_round_trips(tmp_path):
    with steps.session(tmp_path):
        first = mixed(6, workdir="/a")
    with steps.session(tmp_path) as again:
        second = mixed(6, workdir="/elsewhere")
    assert CALLS == ["mixed"] and again.outcomes[0].hit
    pd.testing.assert_frame_equal(first["frame"], second["frame"])
    pd.testing.assert_series_equal(first["series"], second["series"])
    assert isinstance(second["array"], np.memmap) and (second["array"] == first["array"]).all()
    second["array"][0, 0] = 99  # copy-on-write: the entry is not changed
    assert isinstance(second["list"], list)
    pd.testing.assert_frame_equal(second["list"][0], first["list"][0])
    assert second["list"][1] == {"k": (1, "two")} and second["other"] == {1: "not a string key"}
    entry = again.folder / "mixed" / again.outcomes[0].key
    kinds = {p.suffix for p in entry.iterdir()}
    assert {".parquet", ".npy", ".joblib", ".json"} <= kinds
    with steps.session(tmp_path):
        assert mixed(6)["array"][0, 0] == 0


def test_force_recomputes_and_a_disabled_cache_stores_nothing(tmp_path):
    run_pipeline(tmp_path)
    assert by_name(run_pipeline(tmp_path, force=True)) == {"prepare": False, "features": False}
    assert CALLS == ["prepare", "features"] * 2
    with steps.session(None) as off:
        features(prepare(3))
    assert off.outcomes == []
    assert len(list((tmp_path / "prepare").iterdir())) == 2  # the entry and its lock file


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-manifest", "bad-manifest"])
def test_a_corrupt_or_half_written_entry_is_reported_and_recomputed(tmp_path, capsys, damage):
    outcomes = run_pipeline(tmp_path)
    entry = tmp_path / "prepare" / outcomes[0].key
    data = entry / "value.parquet"
    if damage == "flip":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "truncate":
        data.write_bytes(data.read_bytes()[:-10])
    elif damage == "no-manifest":
        (entry / "manifest.json").unlink()
    else:
        (entry / "manifest.json").write_text("{not json")
    assert by_name(run_pipeline(tmp_path)) == {"prepare": False, "features": True}
    assert f"step cache entry {entry} is corrupt" in capsys.readouterr().err
    assert by_name(run_pipeline(tmp_path)) == {"prepare": True, "features": True}  # repaired


def test_a_write_killed_midway_leaves_no_entry(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(steps, "checksum", explode)
    with pytest.raises(KeyboardInterrupt), steps.session(tmp_path):
        prepare(4)
    assert [p.name for p in (tmp_path / "prepare").iterdir() if not p.name.endswith(".lock")] == []


def test_past_the_size_cap_the_least_recently_used_entries_are_evicted(tmp_path):
    for rows in (1000, 2000, 3000):
        with steps.session(tmp_path):
            prepare(rows)
        time.sleep(0.05)
    with steps.session(tmp_path):
        prepare(1000)  # used again: now the most recent
    size = sum(e.size for e in steps.entries(tmp_path))
    one = max(e.size for e in steps.entries(tmp_path))
    with steps.session(tmp_path, max_gb=(size - 1) / 1024**3 + one / 1024**3) as active:
        prepare(4000)
    left = {e.key for e in steps.entries(tmp_path)}
    assert active.outcomes[0].key in left
    assert len(left) < 4
    with steps.session(tmp_path) as check:
        prepare(1000)
    assert check.outcomes[0].hit  # the recently used one stayed


def test_clean_removes_old_entries_and_parse_age_reads_units(tmp_path):
    run_pipeline(tmp_path)
    old = steps.entries(tmp_path)[0]
    past = time.time() - 10 * 86400
    os.utime(old.path / "manifest.json", (past, past))
    assert [e.key for e in steps.clean(tmp_path, steps.parse_age("7d"))] == [old.key]
    assert len(steps.entries(tmp_path)) == 1
    assert len(steps.clean(tmp_path)) == 1 and steps.entries(tmp_path) == []
    assert steps.parse_age("12h") == 43200 and steps.parse_age("30m") == 1800
    assert steps.parse_age("2") == 172800
    with pytest.raises(ValueError, match="not an age"):
        steps.parse_age("soon")


def mlrepo_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [PYTHON, "-m", "mlrepo", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_cache_command_lists_and_cleans(tmp_path):
    run_pipeline(tmp_path / "c")
    listed = mlrepo_cli("cache", "ls", "--dir", str(tmp_path / "c"))
    assert listed.returncode == 0, listed.stderr
    assert "prepare" in listed.stdout and "features" in listed.stdout and "cache: 2 entries" in listed.stdout
    kept = mlrepo_cli("cache", "clean", "--older-than", "7d", "--dir", str(tmp_path / "c"))
    assert kept.returncode == 0 and "removed 0 entries" in kept.stdout
    bad = mlrepo_cli("cache", "clean", "--older-than", "soon", "--dir", str(tmp_path / "c"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "not an age" in bad.stderr
    cleaned = mlrepo_cli("cache", "clean", "--dir", str(tmp_path / "c"))
    assert cleaned.returncode == 0 and "removed 2 entries" in cleaned.stdout
    assert "no entries" in mlrepo_cli("cache", "ls", "--dir", str(tmp_path / "c")).stdout


# --- what changes a step's code key --------------------------------------------------------


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for package in ("train", "train/demo", "train/demo/steps", "datasets", "datasets/demo", "mlrepo"):
        write(root, f"{package}/__init__.py", '"""Package."""\n')
    write(root, "mlrepo/run/steps.py", "def step(f):\n    return f\n")
    write(root, "datasets/demo/common.py", "def clean(x):\n    return x\n")
    write(root, "datasets/demo/other.py", "def unused(x):\n    return x\n")
    write(
        root,
        "train/demo/steps/prep.py",
        """\
        from datasets.demo.common import clean
        from mlrepo.run.steps import step


        @step
        def prep(x):
            return clean(x)
        """,
    )
    write(root, "train/demo/steps/fit.py", "def fit(x):\n    return x\n")
    return root


@pytest.mark.parametrize(
    ("edited", "changes"),
    [
        ("train/demo/steps/prep.py", True),  # the step's own code
        ("datasets/demo/common.py", True),  # a function it calls
        ("train/demo/steps/fit.py", False),  # another step
        ("datasets/demo/other.py", False),  # an unrelated module
        ("mlrepo/run/steps.py", False),  # the cache's machinery
    ],
)
def test_the_code_key_follows_the_step_and_what_it_calls_only(project, edited, changes):
    step_file = project / "train/demo/steps/prep.py"
    before = steps.code_digest(step_file, project)
    with open(project / edited, "a") as handle:
        handle.write("\n# edited\n")
    assert (steps.code_digest(step_file, project) != before) is changes


# --- two processes, one computation ----------------------------------------------------------

WORKER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from mlrepo.run import steps

@steps.step
def slow(n):
    with open({log!r}, "a") as handle:
        handle.write("computed\\n")
    time.sleep(1.5)
    return list(range(n))

with steps.session({folder!r}, root=Path({tmp!r})) as active:
    assert slow(5) == [0, 1, 2, 3, 4]
print("hit" if active.outcomes[0].hit else "miss")
"""


def test_two_processes_needing_the_same_missing_entry_compute_it_once(tmp_path):
    log = tmp_path / "computed.log"
    text = WORKER.format(root=str(ROOT), log=str(log), folder=str(tmp_path / "c"), tmp=str(tmp_path))
    script = write(tmp_path, "worker.py", text)
    procs = [subprocess.Popen([PYTHON, str(script)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert [p.returncode for p in procs] == [0, 0]
    assert outs == ["hit", "miss"]
    assert log.read_text().count("computed") == 1


def test_the_cache_is_configured_and_git_ignored():
    from mlrepo.run.config import compose

    cfg = compose(["pipeline=train_iris"])
    assert str(cfg.paths.cache).endswith(".cache/steps") and cfg.cache.steps is True and cfg.cache.max_gb > 0
    ignored = subprocess.run(["git", "check-ignore", "-q", ".cache/steps/x/y/manifest.json"], cwd=ROOT)
    assert ignored.returncode == 0
    assert json.dumps(steps.literal_or_hash(Path("/a"))) == '"/a"'
    assert sys.modules.get("mlrepo.run.steps") is steps
