"""Cached pipeline steps: a step that opts in with `@step` is computed once per key, then reused.

A step's key hashes its code (the project files its module imports, transitively, found
statically as `run.uid` finds a pipeline's, `mlrepo.run.identity.closure`), the arguments it
receives (config values as they are; an input that an upstream step returned by that step's
key, anything else by its content) and the run's dataset version. Nothing else enters it.

Entries live in `paths.cache` as `<step>/<key>/`: DataFrames and Series as Parquet, numeric
arrays as `.npy` (loaded memory-mapped, copy-on-write), anything else with joblib, and a
`manifest.json` with each file's size and CRC-32 written last. An entry is built in a temporary
folder and renamed into place, so a killed run never leaves half of one; an entry that fails its
check is reported with a warning and computed again. One file lock per key makes concurrent
runs (sweep jobs, SLURM jobs on shared storage) compute a missing entry once. Past
`cache.max_gb`, the least recently used entries are evicted.

The runner opens a `session` around `train(config)`: `mode=force` recomputes every step,
`cached` and `retry` reuse, `cache.steps=false` turns the cache off. Outside a session a step
is a plain function call.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import inspect
import json
import logging
import os
import shutil
import sys
import time
import uuid
import weakref
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlrepo import ROOT

#: Bumped when the storage layout changes: older entries are then never read.
FORMAT = 1
MANIFEST = "manifest.json"
#: The modules whose edits do not change a step's key: the cache's own machinery.
MACHINERY = ("mlrepo.run.steps",)
KEY_CHARS = 24
#: Parquet as the cache writes it: LZ4 without dictionary pages reads back ~2x faster than the
#: default (snappy + dictionaries): 0.2 s for a 128 MB float frame, measured on 2 busy cores.
PARQUET = {"compression": "lz4", "use_dictionary": False}
_CHUNK = 1 << 24

log = logging.getLogger("mlrepo.run.steps")


class _Missing:
    """No usable entry."""


MISSING = _Missing()


@dataclass
class Outcome:
    """What one step call did in a run.

    Attributes:
        name: the step's name.
        key: its key.
        hit: whether the entry was reused.
        seconds: what the call took in this run (loading the entry, or computing it).
        computed_s: what computing the entry cost when it was made.
    """

    name: str
    key: str
    hit: bool
    seconds: float
    computed_s: float

    @property
    def saved_s(self) -> float:
        """The time a hit saved (0 for a miss)."""
        return max(0.0, self.computed_s - self.seconds) if self.hit else 0.0


@dataclass
class Session:
    """The step cache as one run uses it.

    Attributes:
        folder: where entries live; None when the cache is off.
        force: recompute every step (mode=force), replacing the entries.
        dataset: the run's dataset version (part of every key).
        max_bytes: the cache's size cap (0: none).
        root: the repository root (code keys are computed against it).
        on_outcome: called after each step call (the runner tags the run with it).
        outcomes: every step call so far.
    """

    folder: Path | None
    force: bool = False
    dataset: str = ""
    max_bytes: int = 0
    root: Path = ROOT
    on_outcome: Callable[[Outcome], None] | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    _known: dict[int, tuple[Any, str]] = field(default_factory=dict)
    _codes: dict[str, str] = field(default_factory=dict)

    # --- keys ---------------------------------------------------------------------------

    def code_of(self, func: Callable[..., Any]) -> str:
        """The digest of the project files `func`'s module imports, transitively."""
        source = inspect.getsourcefile(func)
        if source is None:
            raise ValueError(f"step {func.__qualname__} has no source file: it cannot be cached")
        if source not in self._codes:
            self._codes[source] = code_digest(Path(source), self.root)
        return self._codes[source]

    def input_key(self, value: Any) -> Any:
        """What an argument contributes to a key: an upstream step's key, a literal, or a content hash."""
        known = self._known.get(id(value))
        if known is not None:
            held = known[0]() if isinstance(known[0], weakref.ref) else known[0]
            if held is value:
                return {"step": known[1]}
        if isinstance(value, (tuple, list)):
            return [self.input_key(v) for v in value]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: self.input_key(v) for k, v in value.items()}
        return literal_or_hash(value)

    def key(self, name: str, func: Callable[..., Any], arguments: dict[str, Any]) -> str:
        """The key of calling step `name` (function `func`) with `arguments`."""
        payload = {
            "format": FORMAT,
            "step": name,
            "code": self.code_of(func),
            "inputs": {k: self.input_key(v) for k, v in sorted(arguments.items())},
            "dataset": self.dataset,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:KEY_CHARS]

    def remember(self, value: Any, key: str) -> None:
        """Remember that `value` (and its parts) came from the step entry `key`."""
        if value is None or isinstance(value, (bool, int, float, str, bytes)):
            return  # small literals are keyed by value; their ids are shared
        if isinstance(value, (tuple, list)):  # containers are keyed through their items
            for i, item in enumerate(value):
                self.remember(item, f"{key}/{i}")
        elif isinstance(value, dict):
            for k, item in value.items():
                self.remember(item, f"{key}/{k}")
        else:
            try:  # a weak reference: remembering a value must not keep a large table alive
                self._known[id(value)] = (weakref.ref(value), key)
            except TypeError:
                self._known[id(value)] = (value, key)

    # --- one call -------------------------------------------------------------------------

    def call(
        self, name: str, func: Callable[..., Any], arguments: dict[str, Any], call: Callable[[], Any]
    ) -> Any:
        """Return the step's value from its entry, or compute it (once, under the key's lock)."""
        assert self.folder is not None
        key = self.key(name, func, arguments)
        entry = self.folder / name / key
        started = time.perf_counter()
        value, computed = (MISSING, 0.0) if self.force else load(entry, warn=False)
        if value is MISSING:
            with lock(entry):
                if not self.force:
                    value, computed = load(entry, warn=True)  # another job may have made it meanwhile
                if value is MISSING:
                    value = call()
                    computed = time.perf_counter() - started
                    store(entry, value, computed, {"step": name, "function": func.__qualname__})
                    self._record(Outcome(name, key, False, computed, computed))
                    if self.max_bytes:
                        evict(self.folder, self.max_bytes, keep=entry)
                    self.remember(value, key)
                    return value
        self._record(Outcome(name, key, True, time.perf_counter() - started, computed))
        self.remember(value, key)
        return value

    def _record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        log.info("step %s: %s (key %s, %.2f s)", outcome.name, "hit" if outcome.hit else "miss",
                 outcome.key, outcome.seconds)  # fmt: skip
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def summary(self) -> str:
        """One line: which steps were reused and the time that saved, which were computed."""
        if not self.outcomes:
            return ""
        hits = [o for o in self.outcomes if o.hit]
        misses = [o for o in self.outcomes if not o.hit]
        parts = []
        if hits:
            saved = sum(o.saved_s for o in hits)
            parts.append(f"reused {', '.join(o.name for o in hits)} (saved {saved:.1f} s)")
        if misses:
            parts.append(f"computed {', '.join(o.name for o in misses)}")
        return "Steps: " + "; ".join(parts) + (f"  [cache: {self.folder}]" if self.folder else "")


_session: Session | None = None


def current() -> Session | None:
    """The session of the run in progress, if any."""
    return _session


@contextlib.contextmanager
def session(
    folder: str | Path | None,
    *,
    force: bool = False,
    dataset: str = "",
    max_gb: float = 0,
    root: Path = ROOT,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Iterator[Session]:
    """Cache the steps called inside the block in `folder` (None: compute them, store nothing)."""
    global _session
    previous = _session
    _session = Session(
        folder=Path(folder) if folder is not None else None,
        force=force,
        dataset=dataset,
        max_bytes=int(float(max_gb) * 1024**3),
        root=root,
        on_outcome=on_outcome,
    )
    try:
        yield _session
    finally:
        _session = previous


def session_for(
    cfg: Any, on_outcome: Callable[[Outcome], None] | None = None
) -> contextlib.AbstractContextManager[Session]:
    """The session a run of `cfg` uses (`paths.cache`, `cache.*`, `mode`, `data.version`)."""
    from omegaconf import OmegaConf

    enabled = bool(OmegaConf.select(cfg, "cache.steps", default=True))
    folder = OmegaConf.select(cfg, "paths.cache", default=None)
    return session(
        str(folder) if enabled and folder else None,
        force=str(OmegaConf.select(cfg, "mode", default="cached")) == "force",
        dataset=str(OmegaConf.select(cfg, "data.version", default="") or ""),
        max_gb=float(OmegaConf.select(cfg, "cache.max_gb", default=0) or 0),
        on_outcome=on_outcome,
    )


def step(
    func: Callable[..., Any] | None = None, *, name: str | None = None, ignore: Sequence[str] = ()
) -> Any:
    """Make a function a cached step (`@step`, or `@step(name=..., ignore=("data_dir",))`).

    Args:
        func: the step's function; its arguments are its inputs.
        name: the step's name (the folder under `paths.cache`, the tag `step.<name>`); default
            the function's name.
        ignore: arguments that do not change the result (a machine path): left out of the key.
    """

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        step_name = name or function.__name__
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            active = _session
            if active is None or active.folder is None:
                return function(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = {k: v for k, v in bound.arguments.items() if k not in ignore}
            return active.call(step_name, function, arguments, lambda: function(*args, **kwargs))

        wrapper.step_name = step_name  # type: ignore[attr-defined]
        return wrapper

    return wrap(func) if func is not None else wrap


# --- keys -----------------------------------------------------------------------------------


def code_digest(source: Path, root: Path = ROOT) -> str:
    """A digest of `source` and every project file it imports (the cache's machinery left out)."""
    from mlrepo.run.identity import closure

    digest = hashlib.sha256()
    for path in closure([source], root, skip=MACHINERY):
        try:
            shown = str(path.relative_to(root))
        except ValueError:
            shown = path.name
        digest.update(shown.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def literal_or_hash(value: Any) -> Any:
    """A JSON value for `value`: itself when it is a plain literal, else a digest of its content."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    module = type(value).__module__.split(".")[0]
    if module == "omegaconf":
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, (list, tuple)):
        return [literal_or_hash(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: literal_or_hash(v) for k, v in value.items()}
    return {"content": content_hash(value)}


def content_hash(value: Any) -> str:
    """A digest of a value's content: pandas objects by their hashed rows, arrays by their bytes."""
    module = type(value).__module__.split(".")[0]
    digest = hashlib.sha256()
    if module == "pandas" and hasattr(value, "index"):
        import pandas as pd

        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        meta = (
            list(value.dtypes.astype(str).items())
            if hasattr(value, "columns")
            else [value.name, str(value.dtype)]
        )
        digest.update(repr(meta).encode())
        return digest.hexdigest()
    if module == "numpy" and hasattr(value, "tobytes") and getattr(value, "dtype", None) is not None:
        if value.dtype != object:
            digest.update(f"{value.dtype}{value.shape}".encode())
            digest.update(
                memoryview(value.ravel()).cast("B") if value.flags.c_contiguous else value.tobytes()
            )
            return digest.hexdigest()
    import joblib

    return str(joblib.hash(value))


# --- storing and loading entries ----------------------------------------------------------


def _is_frame(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "columns")


def _is_series(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and type(value).__name__ == "Series"


def _save(value: Any, folder: Path, stem: str) -> dict[str, Any]:
    """Write `value` under `folder` (files named from `stem`); return how to read it back."""
    if isinstance(value, (tuple, list)):
        items = [_save(v, folder, f"{stem}.{i}") for i, v in enumerate(value)]
        return {"kind": type(value).__name__ if type(value) in (tuple, list) else "tuple", "items": items}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {
            "kind": "dict",
            "items": [[k, _save(v, folder, f"{stem}.{i}")] for i, (k, v) in enumerate(value.items())],
        }
    if _is_frame(value) and all(isinstance(c, str) for c in value.columns):
        value.to_parquet(folder / f"{stem}.parquet", **PARQUET)
        return {"kind": "parquet", "file": f"{stem}.parquet"}
    if _is_series(value) and (value.name is None or isinstance(value.name, str)):
        value.to_frame(name="values").to_parquet(folder / f"{stem}.parquet", **PARQUET)
        return {"kind": "series", "file": f"{stem}.parquet", "name": value.name}
    if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray" and value.dtype != object:
        import numpy as np

        np.save(folder / f"{stem}.npy", value, allow_pickle=False)
        return {"kind": "npy", "file": f"{stem}.npy"}
    import joblib

    joblib.dump(value, folder / f"{stem}.joblib")
    return {"kind": "joblib", "file": f"{stem}.joblib"}


def _load(tree: dict[str, Any], folder: Path) -> Any:
    kind = tree["kind"]
    if kind in ("tuple", "list"):
        items = [_load(item, folder) for item in tree["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {k: _load(item, folder) for k, item in tree["items"]}
    path = folder / tree["file"]
    if kind in ("parquet", "series"):
        import pandas as pd

        frame = pd.read_parquet(path)
        return frame["values"].rename(tree["name"]) if kind == "series" else frame
    if kind == "npy":
        import numpy as np

        return np.load(path, mmap_mode="c", allow_pickle=False)
    if kind == "joblib":
        import joblib

        return joblib.load(path)
    raise ValueError(f"unknown entry kind {kind!r}")


def checksum(path: Path) -> int:
    """The CRC-32 of a file (fast enough to check a 100 MB entry on every hit)."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def store(entry: Path, value: Any, computed_s: float, meta: dict[str, Any] | None = None) -> None:
    """Write `value` as the entry `entry`, atomically: a temporary folder renamed into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.parent / f".tmp-{entry.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tree = _save(value, tmp, "value")
        files = {p.name: {"size": p.stat().st_size, "crc32": checksum(p)} for p in sorted(tmp.iterdir())}
        manifest = {"format": FORMAT, "tree": tree, "files": files, "computed_s": computed_s,
                    "created": time.time(), **(meta or {})}  # fmt: skip
        with open(tmp / MANIFEST, "w", encoding="utf-8") as handle:  # written last: the marker
            json.dump(manifest, handle)
            handle.flush()
            os.fsync(handle.fileno())
        old = None
        if entry.exists():
            old = entry.parent / f".old-{entry.name}-{uuid.uuid4().hex[:8]}"
            os.rename(entry, old)
        os.rename(tmp, entry)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check(entry: Path) -> dict[str, Any]:
    """The manifest of `entry` after checking its files' sizes and checksums.

    Raises:
        ValueError: the entry is incomplete or corrupt (the message says what is wrong).
    """
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError("no manifest (half-written)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise ValueError(f"format {manifest.get('format')} is not {FORMAT}")
    for name, expected in manifest["files"].items():
        path = entry / name
        if not path.is_file():
            raise ValueError(f"{name} is missing")
        if path.stat().st_size != expected["size"]:
            raise ValueError(f"{name} has {path.stat().st_size} bytes, not {expected['size']}")
        if checksum(path) != expected["crc32"]:
            raise ValueError(f"{name} fails its checksum")
    return manifest


def load(entry: Path, warn: bool = True) -> tuple[Any, float]:
    """The value stored in `entry` and what computing it cost, or `(MISSING, 0)`.

    A corrupt or half-written entry is reported (when `warn`) and treated as missing.
    """
    if not entry.exists():
        return MISSING, 0.0
    try:
        manifest = check(entry)
        value = _load(manifest["tree"], entry)
    except Exception as exc:  # any damage means: compute it again
        if warn:
            log.debug("corrupt entry %s: %s", entry, exc)
            print(
                f"warning: step cache entry {entry} is corrupt ({exc}): computing it again", file=sys.stderr
            )
        return MISSING, 0.0
    with contextlib.suppress(OSError):
        os.utime(entry / MANIFEST)  # last used, for LRU eviction
    return value, float(manifest.get("computed_s", 0.0))


@contextlib.contextmanager
def lock(entry: Path) -> Iterator[None]:
    """Hold the key's file lock (`<step>/<key>.lock`): one process computes a missing entry."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.parent / f"{entry.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the cache as a whole: ls, clean, eviction ---------------------------------------------


@dataclass
class Entry:
    """One stored step result.

    Attributes:
        step: the step's name.
        key: its key.
        path: its folder.
        size: bytes on disk.
        last_used: when it was last written or read (epoch seconds).
        computed_s: what computing it cost.
    """

    step: str
    key: str
    path: Path
    size: int
    last_used: float
    computed_s: float


def entries(folder: Path) -> list[Entry]:
    """Every complete entry under `folder`, least recently used first."""
    found = []
    if not folder.is_dir():
        return found
    for step_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for entry in step_dir.iterdir():
            marker = entry / MANIFEST
            if entry.name.startswith(".") or not marker.is_file():
                continue
            try:
                manifest = json.loads(marker.read_text(encoding="utf-8"))
                size = sum(p.stat().st_size for p in entry.iterdir())
                found.append(Entry(step_dir.name, entry.name, entry, size, marker.stat().st_mtime,
                                   float(manifest.get("computed_s", 0.0))))  # fmt: skip
            except (OSError, ValueError):
                continue
    return sorted(found, key=lambda e: e.last_used)


def evict(folder: Path, max_bytes: int, keep: Path | None = None) -> list[Entry]:
    """Delete least recently used entries until the cache holds at most `max_bytes`; return them."""
    found = entries(folder)
    total = sum(e.size for e in found)
    removed = []
    for entry in found:
        if total <= max_bytes:
            break
        if keep is not None and entry.path == keep:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        total -= entry.size
        removed.append(entry)
    if removed:
        log.info(
            "step cache over %.2f GB: evicted %d least recently used entries",
            max_bytes / 1024**3,
            len(removed),
        )
    return removed


def clean(folder: Path, older_than_s: float | None = None) -> list[Entry]:
    """Delete the entries not used for `older_than_s` seconds (all when None); return them.

    Leftovers of killed writes (`.tmp-*`) are removed too; lock files of removed keys as well.
    """
    now = time.time()
    removed = [e for e in entries(folder) if older_than_s is None or now - e.last_used > older_than_s]
    for entry in removed:
        shutil.rmtree(entry.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            (entry.path.parent / f"{entry.key}.lock").unlink()
    if folder.is_dir():
        for leftover in folder.glob("*/.*-*"):
            if leftover.is_dir() and now - leftover.stat().st_mtime > 3600:
                shutil.rmtree(leftover, ignore_errors=True)
    return removed


def parse_age(text: str) -> float:
    """Seconds in an age like `7d`, `12h`, `30m`, `45s` (a bare number is days).

    Raises:
        ValueError: the text is not such an age.
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip().lower()
    unit = text[-1] if text and text[-1] in units else "d"
    number = text[:-1] if text and text[-1] in units else text
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"'{text}' is not an age: use e.g. 7d, 12h, 30m") from None
    if value < 0:
        raise ValueError(f"'{text}' is negative")
    return value * units[unit]


def human_size(size: float) -> str:
    """`1.2 GB`, `340 MB`, `12 kB`, `512 B`."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"
