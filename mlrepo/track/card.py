"""A run's card: one self-contained HTML page with what a reviewer needs to judge the run.

`card.html` holds the command, the config values that differ from the defaults, `run.uid`, the
git state, the data inputs (versions, DVC md5, the run that made them), the metrics (with
their curves where logged per step), the figures, the model's signature, a study's report, and
for a sweep's parent a sortable comparison of its children. CSS, script and images are inline
(images as data URIs): it opens offline and in the MLflow UI's artifact viewer.

The runner logs it at the end of every run (`log_card`); `python -m mlrepo card RUN_ID` writes
it for any run, older ones included (`main`). MLflow, Jinja2 and matplotlib are imported here,
inside the functions.
"""

from __future__ import annotations

import argparse
import base64
import functools
import html
import io
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlrepo.errors import UserError

ARTIFACT = "card.html"
TEMPLATE = Path(__file__).with_name("templates") / "card.html.jinja"
_SKIP_DIRS = {"model", "error"}
_TEXT_SUFFIXES = (".yaml", ".json", ".txt", ".html")
_MAX_CURVES = 12
_MAX_FIGURE_BYTES = 4_000_000
_ITEM = re.compile(r"^\s*([-*]|\d+\.)\s+")


# --- reading a run ---------------------------------------------------------------------------


def _files(client: Any, run_id: str, path: str = "") -> list[Any]:
    """The run's artifact files (recursively), skipping a pre-MLflow-3 model folder."""
    out = []
    for item in client.list_artifacts(run_id, path or None):
        if item.is_dir:
            if item.path.split("/")[-1] not in _SKIP_DIRS:
                out.extend(_files(client, run_id, item.path))
        else:
            out.append(item)
    return out


def _read(client: Any, run_id: str, path: str, into: Path) -> bytes:
    return Path(client.download_artifacts(run_id, path, str(into))).read_bytes()


def _signature(client: Any, run: Any, into: Path) -> dict[str, str] | None:
    """The model's flavours and signature as text, or None when the run logged no model.

    Read from the logged model's MLmodel file through `client`'s store (MLflow 3 keeps models
    beside the run; an older run keeps `model/` among its artifacts).
    """
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    run_id = run.info.run_id
    try:
        found = client.search_logged_models([run.info.experiment_id], f"source_run_id = '{run_id}'")
        if found:
            uri = f"{found[0].artifact_location.rstrip('/')}/MLmodel"
            path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into))
        else:
            path = client.download_artifacts(run_id, "model/MLmodel", str(into))
        model = Model.load(path)
    except (MlflowException, OSError):
        return None
    sig = model.signature
    return {
        "flavors": ", ".join(sorted(model.flavors)),
        "inputs": _schema_text(sig.inputs if sig else None),
        "outputs": _schema_text(sig.outputs if sig else None),
    }


def _schema_text(schema: Any) -> str:
    if schema is None:
        return "(none)"
    try:
        parts = []
        for c in schema.to_dict():
            spec = c.get("tensor-spec")
            kind = f"{spec.get('dtype')} {spec.get('shape')}" if isinstance(spec, dict) else c.get("type", "")
            parts.append(f"{c['name']}: {kind}" if c.get("name") else str(kind))
        return ", ".join(parts)
    except (AttributeError, TypeError):
        return str(schema)


def _inputs(client: Any, run: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The run's dataset inputs and outputs: name, md5, source, DVC status, the run that made it."""
    inputs, outputs = [], []
    for item in run.inputs.dataset_inputs if run.inputs else []:
        tags = {t.key: t.value for t in item.tags}
        try:
            source = json.loads(item.dataset.source).get("uri", item.dataset.source)
        except (ValueError, AttributeError):
            source = item.dataset.source
        row = {
            "name": item.dataset.name,
            "md5": item.dataset.digest,
            "source": str(source),
            "status": tags.get("dvc.status", ""),
            "context": tags.get("mlflow.data.context", ""),
            "producer": _producer(client, tags),
        }
        (outputs if tags.get("mlrepo.direction") == "output" else inputs).append(row)
    return inputs, outputs


def _producer(client: Any, tags: dict[str, str]) -> str:
    """The id of the FINISHED run that made a table (from its `producer.run_uid`), or its uid."""
    uid, pipeline = tags.get("producer.run_uid"), tags.get("producer.pipeline")
    if not uid:
        return ""
    found = client.get_experiment_by_name(pipeline) if pipeline else None
    if found is not None:
        made = client.search_runs(
            [found.experiment_id],
            f"tags.`run.uid` = '{uid}' and attributes.status = 'FINISHED'",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
        if made:
            return f"run {made[0].info.run_id} ({pipeline})"
    return f"run.uid {uid[:8]} ({pipeline or '?'})"


def _metrics(client: Any, run: Any) -> tuple[list[dict[str, Any]], dict[str, list[tuple[int, float]]]]:
    """The latest value of each metric, and the per-step history of those logged at several steps."""
    rows, curves = [], {}
    for key in sorted(run.data.metrics):
        rows.append({"key": key, "value": run.data.metrics[key]})
        history = client.get_metric_history(run.info.run_id, key)
        if len({m.step for m in history}) > 1:
            curves[key] = sorted((m.step, m.value) for m in history)
    return rows, curves


def _children(client: Any, run: Any, metric: str | None, goal: str = "maximize") -> dict[str, Any] | None:
    """A sweep parent's jobs: its children and the earlier runs its cached jobs reported (tag
    `sweep.cached`), with their swept values and main metric, the best marked; None for other runs."""
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'", max_results=1000
    )
    cached = set()
    for run_id in filter(None, run.data.tags.get("sweep.cached", "").split(",")):
        try:
            children.append(client.get_run(run_id))
            cached.add(run_id)
        except Exception:  # noqa: BLE001 - a cached run deleted since: the card shows the rest
            continue
    if not children:
        return None
    params = [dict(c.data.params) for c in children]
    keys = sorted({k for p in params for k in p})
    swept = [
        k for k in keys if len({p.get(k) for p in params}) > 1 and k.split(".")[0] not in ("hydra", "mode")
    ]
    if metric is None:  # an older parent without metric tags: its children's params name it
        from mlrepo.run.metric import of_run

        found = of_run(children[0].data.params, children[0].data.tags)
        metric, goal = (found.name, found.goal) if found else (None, goal)
    rows = [
        {
            "run_id": c.info.run_id,
            "status": c.info.status + (" (cached)" if c.info.run_id in cached else ""),
            "values": [c.data.params.get(k, "") for k in swept],
            "metric": c.data.metrics.get(metric) if metric else None,
        }
        for c in sorted(children, key=lambda c: c.info.start_time or 0)
    ]
    from mlrepo.run.metric import best

    top = best(reversed(rows), lambda r: r["metric"], goal)  # the newest of equals
    return {
        "swept": swept,
        "metric": metric,
        "goal": goal,
        "rows": rows,
        "best": top["run_id"] if top else None,
    }


# --- drawing --------------------------------------------------------------------------------


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_curves(curves: dict[str, list[tuple[int, float]]]) -> str | None:
    """All per-step metrics in one figure, one small panel each."""
    if not curves:
        return None
    plt = _pyplot()
    keys = list(curves)[:_MAX_CURVES]
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        steps, values = zip(*curves[key], strict=True)
        ax.plot(steps, values, marker="o", markersize=3)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    figure.tight_layout()
    return _png(figure)


def _draw_sweep(sweep: dict[str, Any]) -> list[dict[str, str]]:
    """The main metric against each swept value, one figure per swept key."""
    if not sweep["metric"] or not sweep["swept"]:
        return []
    plt = _pyplot()
    out = []
    for i, key in enumerate(sweep["swept"]):
        points = [(r["values"][i], r["metric"]) for r in sweep["rows"] if r["metric"] is not None]
        if not points:
            continue
        figure, ax = plt.subplots(figsize=(4.5, 3))
        try:
            pairs = sorted((float(x), y) for x, y in points)
            ax.plot([p[0] for p in pairs], [p[1] for p in pairs], marker="o")
            if all(x > 0 for x, _ in pairs) and max(x for x, _ in pairs) / min(x for x, _ in pairs) >= 100:
                ax.set_xscale("log")
        except ValueError:  # categorical values
            labels = sorted({str(x) for x, _ in points})
            ax.scatter([labels.index(str(x)) for x, _ in points], [y for _, y in points])
            ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel(key)
        ax.set_ylabel(sweep["metric"])
        ax.set_title(f"{sweep['metric']} against {key}", fontsize=10)
        figure.tight_layout()
        out.append({"title": f"{sweep['metric']} against {key}", "src": _png(figure)})
    return out


# --- reports -----------------------------------------------------------------------------------


def markdown_html(text: str) -> str:
    """A small markdown subset as HTML: headings, paragraphs, lists, pipe tables, code, emphasis.

    Enough for a study's report; everything is escaped first, so a report cannot inject markup.
    """
    out: list[str] = []
    lines = text.splitlines()
    i = 0

    def inline(s: str) -> str:
        s = html.escape(s, quote=False)
        s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
        s = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)
        return re.sub(r"(?<![*\w])\*([^*]+)\*(?!\w)", r"<em>\1</em>", s)

    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
            i += 1
        elif m := re.match(r"^(#{1,6})\s+(.*)$", line):
            level = len(m[1])
            out.append(f"<h{level}>{inline(m[2])}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            body = [r for r in rows[1:] if not all(re.fullmatch(r":?-{2,}:?", c) for c in r)]
            head = "".join(f"<th>{inline(c)}</th>" for c in rows[0])
            cells = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in body)
            out.append(f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{cells}</tbody>')
            out.append("</table>")
        elif _ITEM.match(line):
            tag = "ol" if re.match(r"^\s*\d+\.", line) else "ul"
            items = []
            while i < len(lines) and _ITEM.match(lines[i]):
                items.append(f"<li>{inline(_ITEM.sub('', lines[i]))}</li>")
                i += 1
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"^(#|\||```|\s*[-*]\s)", lines[i]):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{inline(' '.join(para))}</p>")
    return "\n".join(out)


def report_html(report: str, title: str) -> str:
    """A study's report as a whole HTML page: HTML kept as it is, markdown converted."""
    if report.lstrip().startswith("<"):
        return report
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;line-height:1.45}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}</style>"
        f"</head><body>{markdown_html(report)}</body></html>"
    )


# --- the card ---------------------------------------------------------------------------------


def collect(client: Any, run_id: str, status: str | None = None) -> dict[str, Any]:
    """Everything the card shows about run `run_id`, read from the store.

    Args:
        client: an `MlflowClient` on the run's store.
        run_id: the run.
        status: the status to show instead of the stored one (the runner writes the card of a
            run before it ends FINISHED).
    """
    import os
    import tempfile

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # no progress bars in a run's output
    run = client.get_run(run_id)
    tags, params = dict(run.data.tags), dict(run.data.params)
    experiment = client.get_experiment(run.info.experiment_id).name
    from mlrepo.run.tasks import task_of

    task = task_of(tags.get("pipeline", experiment))
    figures: list[dict[str, str]] = []
    texts: dict[str, str] = {}
    notebook_files: list[str] = []  # a notebook study's executed notebook and its HTML (run/notebook.py)
    with tempfile.TemporaryDirectory() as tmp:
        for item in _files(client, run_id):
            path = item.path
            if path.startswith("notebook/"):
                notebook_files.append(path)
                continue
            if path == ARTIFACT:
                continue
            if path.endswith(".png") and (item.file_size or 0) <= _MAX_FIGURE_BYTES:
                data = base64.b64encode(_read(client, run_id, path, Path(tmp))).decode()
                figures.append({"title": path, "src": f"data:image/png;base64,{data}"})
            elif path.endswith(_TEXT_SUFFIXES) and (item.file_size or 0) <= 2_000_000:
                texts[path] = _read(client, run_id, path, Path(tmp)).decode("utf-8", "replace")
        signature = _signature(client, run, Path(tmp)) if task == "train" and "run.uid" in tags else None
    overrides = _overrides(texts.get("config/overrides.yaml"))
    metrics, curves = _metrics(client, run)
    inputs, outputs = _inputs(client, run)
    from mlrepo.run.metric import MAXIMIZE, of_run

    main = of_run(params, tags)
    main_metric, goal = (main.name, main.goal) if main else (None, MAXIMIZE)
    is_parent = "sweep.id" in tags and "run.uid" not in tags
    sweep = _children(client, run, main_metric, goal) if is_parent else None
    changed = tags.get("run.changed", "")
    end = run.info.end_time or int(time.time() * 1000)
    return {
        "run_id": run_id,
        "name": run.info.run_name,
        "experiment": experiment,
        "pipeline": tags.get("pipeline", experiment),
        "task": task,
        "status": status or run.info.status,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime((run.info.start_time or 0) / 1000)),
        "seconds": max(0.0, (end - (run.info.start_time or end)) / 1000),
        "command": _command(overrides, tags),
        "changed": [c.split("=", 1) for c in changed.split(" ") if "=" in c],
        "tags": tags,
        "params": sorted(params.items()),
        "git": {k: tags.get(f"git.{k}", "") for k in ("commit", "branch", "dirty")},
        "inputs": inputs,
        "outputs": outputs,
        "metrics": metrics,
        "main_metric": main_metric,
        "main_goal": goal,
        "curves": _draw_curves(curves),
        "figures": figures,
        "signature": signature,
        "report": texts.get("report.html"),
        "notebook": {"source": tags["study.notebook"], "files": sorted(notebook_files)}
        if tags.get("study.notebook")
        else None,
        "profile": _json(texts.get("dataset/profile.json")),
        "sweep": sweep,
        "sweep_figures": _draw_sweep(sweep) if sweep else [],
        "error": tags.get("mlrepo.error"),
        "study_of": tags.get("study.of"),
        "studied_by": [i for i in tags.get("studied.by", "").split(",") if i],
        "tables": {p: _json(t) for p, t in texts.items() if p.startswith("tables/") and p.endswith(".json")},
    }


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _overrides(text: str | None) -> list[str]:
    if not text:
        return []
    import yaml

    found = yaml.safe_load(text)
    return [str(o) for o in found] if isinstance(found, list) else []


def _command(overrides: list[str], tags: dict[str, str]) -> str:
    if "sweep.overrides" in tags and "run.uid" not in tags:
        return f"python -m train -m {tags['sweep.overrides']}"
    if not overrides:
        return f"python -m train pipeline={tags.get('pipeline', '?')}"
    return "python -m train " + " ".join(overrides)


def render(data: dict[str, Any]) -> str:
    """The card's HTML for what `collect` read."""
    return _template().render(**data)


@functools.lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v: "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)
    return env.from_string(TEMPLATE.read_text(encoding="utf-8"))


def build(run_id: str, uri: str | None = None, status: str | None = None) -> str:
    """The card of run `run_id` in the store `uri` (default: MLflow's current one)."""
    from mlflow.tracking import MlflowClient

    return render(collect(MlflowClient(uri), run_id, status))


def log_card(run_id: str, status: str = "FINISHED") -> None:
    """Log the active run's card as `card.html` (the runner calls it just before the run ends `status`)."""
    import mlflow

    mlflow.log_text(build(run_id, mlflow.get_tracking_uri(), status=status), ARTIFACT)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `python -m mlrepo card`."""
    parser.add_argument("run_id")
    parser.add_argument("--out", type=Path, default=None, help="default: card-<run id>.html")
    parser.add_argument("--open", action="store_true", help="open it in the default browser")
    parser.add_argument("--branch", default="development", help="read this super-branch's store")
    parser.add_argument("--uri", default=None, help="default: MLFLOW_TRACKING_URI, else the branch store")


def run(args: argparse.Namespace) -> int:
    """`python -m mlrepo card RUN_ID [--out FILE] [--open]`: write (and open) any run's card.

    Returns:
        0 once written.

    Raises:
        UserError: there is no such run in the store.
    """
    from mlflow.exceptions import MlflowException

    from mlrepo.track import tracking
    from mlrepo.track.runs import store_uri

    uri = tracking.connect(store_uri(args.branch, args.uri))
    try:
        text = build(args.run_id, uri)
    except MlflowException as exc:
        raise UserError(f"No run {args.run_id} in {uri} ({str(exc).splitlines()[0]}).") from None
    out = args.out or Path(f"card-{args.run_id}.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"card of run {args.run_id}: {out}")
    if args.open:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` as `python -m mlrepo card` does and run it."""
    parser = argparse.ArgumentParser(prog="python -m mlrepo card", description="Write a run's card.html.")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
