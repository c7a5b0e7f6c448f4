"""What the terminal shows when a pipeline's own code raises: one paragraph, not a traceback dump.

The run still ends FAILED with the whole traceback as its artifact `error/traceback.txt`; the
terminal gets the exception's type and message (its first line, cut at `MAX_MESSAGE` characters:
a scikit-learn error can carry every value of a column) and the place in the project's code
where it happened: the deepest frame in `train/`, `models/` or `datasets/` (the user's code),
else the deepest frame of the repository, with the library frame it ended in.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from types import TracebackType

from mlrepo import ROOT

MAX_MESSAGE = 300
"""The most characters of the exception's message shown in the terminal."""
USER_FOLDERS = ("train", "datasets", "models")
"""The folders that hold the users' code, whose frames say where an error happened."""


def short_message(exc: BaseException, limit: int = MAX_MESSAGE) -> str:
    """`Type: first line of the message`, cut at `limit` characters with a note of what was cut."""
    text = str(exc).strip()
    first, _, rest = text.partition("\n")
    cut = len(first) > limit
    shown = first[:limit].rstrip() + ("…" if cut else "")
    hidden = len(text) - len(first[:limit]) if (cut or rest) else 0
    more = f" [{hidden} more characters in error/traceback.txt]" if hidden else ""
    return f"{type(exc).__name__}: {shown}{more}" if shown else type(exc).__name__


def _relative(filename: str, root: Path) -> str | None:
    try:
        return str(Path(filename).resolve().relative_to(root.resolve()))
    except ValueError:
        return None


def where(tb: TracebackType | None, root: Path = ROOT) -> str:
    """Where the error happened: `train/x/steps/fit.py:12 in fit()`, plus the library frame it
    ended in (`sklearn/...:345 in check_array()`) when that is not the user's code."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return "(no traceback)"
    inside = [
        (f, rel) for f in frames if (rel := _relative(f.filename, root)) and not rel.startswith(".venv")
    ]
    user = [pair for pair in inside if pair[1].split("/")[0] in USER_FOLDERS]
    chosen = (user or inside or [(frames[-1], frames[-1].filename)])[-1]
    frame, rel = chosen
    text = f"{rel}:{frame.lineno} in {frame.name}()"
    last = frames[-1]
    if last is not frame:
        name = last.filename
        for marker in ("site-packages/", "dist-packages/"):
            if marker in name:
                name = name.split(marker, 1)[1]
        text += f", raised in {name}:{last.lineno} in {last.name}()"
    return text


def paragraph(exc: BaseException, run_id: str, pipeline: str) -> str:
    """The terminal's one paragraph for a run whose pipeline code raised `exc`."""
    return (
        f"Run {run_id} FAILED in pipeline '{pipeline}': {short_message(exc)}\n"
        f"  at {where(exc.__traceback__)}\n"
        "  The whole traceback is saved with the run as error/traceback.txt "
        "(logging.level=debug prints it here too)."
    )
