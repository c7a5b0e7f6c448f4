"""`python -m mlrepo trace THING`: the lineage of what runs in production, both ways, in one step.

THING is an image URI or digest, a Bento tag, a BentoML model tag, a registered model version
(`IrisClassifier/3`) or alias (`IrisClassifier@champion`), or a run id. Upstream the chain is
image → Bento → BentoML model → MLflow run → git commit and branch, command-line overrides,
`run.uid`, dataset table, its version and DVC md5; downstream, from the run, every model
version, BentoML model, Bento and image made from it. Every link is read from what the project
writes: run tags (`git.*`, `run.uid`, `dataset.version`, and `deploy.image_uri`,
`deploy.image_digest`, `deploy.bento_tag` set by the ECR push; `deployment.<target>.*`, where
`make deploy` runs it), the run's dataset inputs and
`config/overrides.yaml`, the BentoML model's labels (`run_id`, ...) and the Bento's model list.
A link that points at nothing is reported under `broken`, never skipped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mlrepo.errors import UserError

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
IMAGE_TAGS = ("deploy.image_uri", "deploy.image_digest", "deploy.bento_tag")


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def _runs_tagged(client: Any, key: str, value: str) -> list[Any]:
    """Runs in any experiment whose tag `key` is `value`."""
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, f"tags.`{key}` = '{value}'") if ids else []


def _overrides(client: Any, run_id: str) -> list[str] | None:
    import tempfile

    import yaml

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, "config/overrides.yaml", tmp)
            with open(path) as handle:
                return [str(x) for x in yaml.safe_load(handle) or []]
    except Exception:  # a missing artifact is a broken link, reported by the caller
        return None


def _source(text: str) -> str:
    """A dataset input's source: the path inside MLflow's `{"uri": ...}` JSON, else the text."""
    try:
        return str(json.loads(text).get("uri", text))
    except (ValueError, AttributeError):
        return text


def describe_run(client: Any, run_id: str, broken: list[str]) -> dict[str, Any] | None:
    """The run's identity: status, pipeline, git, overrides, uid and dataset tables (None: missing)."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        broken.append(f"run {run_id}: not found on the tracking server")
        return None
    tags = run.data.tags
    datasets = [
        {"name": d.dataset.name, "md5": d.dataset.digest, "source": _source(d.dataset.source),
         "dvc_status": {t.key: t.value for t in d.tags}.get("dvc.status", "")}
        for d in (run.inputs.dataset_inputs if run.inputs else [])
    ]  # fmt: skip
    if not datasets:
        broken.append(
            f"run {run_id}: no dataset table logged as an input (dataset.version "
            f"{tags.get('dataset.version', '?')}): its data has no DVC md5 to pull"
        )
    overrides = _overrides(client, run_id)
    if overrides is None:
        broken.append(f"run {run_id}: no config/overrides.yaml artifact")
    for key in ("git.commit", "run.uid"):
        if key not in tags:
            broken.append(f"run {run_id}: no {key} tag")
    return {
        "run_id": run_id,
        "status": run.info.status,
        "pipeline": tags.get("pipeline", ""),
        "branch": tags.get("branch", ""),
        "git_commit": tags.get("git.commit", ""),
        "git_branch": tags.get("git.branch", ""),
        "git_dirty": tags.get("git.dirty", ""),
        "run_uid": tags.get("run.uid", ""),
        "overrides": overrides or [],
        "dataset_version": tags.get("dataset.version", ""),
        "datasets": datasets,
        "image": {key.split(".", 1)[1]: tags[key] for key in IMAGE_TAGS if key in tags},
        "deployments": deployments(tags),
    }


def deployments(tags: dict[str, str]) -> dict[str, dict[str, str]]:
    """Where the run's images run: `{target: {image, endpoint, at, by, status, ...}}`, from the
    `deployment.<target>.<key>` tags `make deploy` sets (mlrepo/ship/kube.py)."""
    found: dict[str, dict[str, str]] = {}
    for key, value in tags.items():
        parts = key.split(".", 2)
        if len(parts) == 3 and parts[0] == "deployment":
            found.setdefault(parts[1], {})[parts[2]] = value
    return found


def _store_models(run_id: str) -> list[dict[str, Any]]:
    """BentoML models in this machine's store imported from `run_id` (by their `run_id` label)."""
    import bentoml

    return [
        {"tag": str(m.tag), "labels": dict(m.info.labels)}
        for m in bentoml.models.list()
        if m.info.labels.get("run_id") == run_id
    ]


def _bentos_with(model_tags: set[str]) -> list[str]:
    import bentoml

    return [str(b.tag) for b in bentoml.list() if {str(m.tag) for m in b.info.models} & model_tags]


def _from_bento(tag: str, found: dict[str, Any], broken: list[str]) -> str | None:
    """Follow a Bento to its BentoML model, then to the run; return the run id."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        bento = bentoml.get(tag)
    except NotFound:
        broken.append(f"bento {tag}: not in this machine's BentoML store (bentoml list)")
        return None
    models = [str(m.tag) for m in bento.info.models]
    found["bento"] = {"tag": str(bento.tag), "models": models}
    if not models:
        broken.append(f"bento {tag}: holds no BentoML model")
        return None
    return _from_model(models[0], found, broken)


def _from_model(tag: str, found: dict[str, Any], broken: list[str]) -> str | None:
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        model = bentoml.models.get(tag)
    except NotFound:
        broken.append(f"BentoML model {tag}: not in this machine's BentoML store")
        return None
    labels = dict(model.info.labels)
    found["bentoml_model"] = {"tag": str(model.tag), "labels": labels}
    if "run_id" not in labels:
        broken.append(f"BentoML model {tag}: no run_id label")
        return None
    return labels["run_id"]


def _from_image(thing: str, client: Any, found: dict[str, Any], broken: list[str]) -> str | None:
    digest = thing.rsplit("@", 1)[1] if "@" in thing else thing if DIGEST.match(thing) else ""
    key, value = ("deploy.image_digest", digest) if digest else ("deploy.image_uri", thing)
    runs = _runs_tagged(client, key, value)
    if not runs:
        broken.append(f"image {thing}: no run carries {key}={value} (ecr.sh tags the run it pushes)")
        return None
    run = runs[0]
    found["image"] = {k.split(".", 1)[1]: run.data.tags[k] for k in IMAGE_TAGS if k in run.data.tags}
    bento = run.data.tags.get("deploy.bento_tag")
    if bento:
        _from_bento(bento, found, broken)
    return run.info.run_id


def _from_registry(thing: str, client: Any, found: dict[str, Any]) -> str:
    from mlflow.exceptions import MlflowException

    name = thing.removeprefix("models:/")
    try:
        if "@" in name:
            model, alias = name.split("@", 1)
            version = client.get_model_version_by_alias(model, alias)
        else:
            model, number = name.rsplit("/", 1)
            version = client.get_model_version(model, number)
    except MlflowException:
        raise UserError(f"There is no registered model version '{thing}' on the tracking server.") from None
    found["model_version"] = {
        "name": version.name,
        "version": version.version,
        "aliases": list(version.aliases),
    }
    return version.run_id


def trace(uri: str, thing: str) -> dict[str, Any]:
    """Walk the lineage of `thing` (see the module docstring).

    Args:
        uri: the tracking server (or any MLflow store).
        thing: an image URI or digest, a Bento or BentoML model tag, `Model@alias`,
            `Model/<version>` or a run id.

    Returns:
        A dict: `query`, the upstream links found (`image`, `bento`, `bentoml_model`,
        `model_version`), `run` (its identity), `made_from_run` (model versions, BentoML models,
        Bentos, images) and `broken` (one line per link that points at nothing).

    Raises:
        UserError: THING names nothing this command knows how to follow.
    """
    from mlflow.exceptions import MlflowException

    from mlrepo.server.auth import access_error

    client = _client(uri)
    found: dict[str, Any] = {"query": thing}
    broken: list[str] = []
    try:
        if RUN_ID.match(thing):
            run_id = thing
        elif DIGEST.match(thing):
            run_id = _from_image(thing, client, found, broken)
        elif thing.startswith("models:/") or re.match(r"^[\w.-]+(/\d+|@[\w-]+)$", thing):
            run_id = _from_registry(thing, client, found)
        elif "/" in thing:  # registry/repository:tag or ...@sha256:digest
            run_id = _from_image(thing, client, found, broken)
        elif ":" in thing:
            import bentoml

            try:
                bentoml.get(thing)
                run_id = _from_bento(thing, found, broken)
            except bentoml.exceptions.NotFound:
                run_id = _from_model(thing, found, broken)
        else:
            raise UserError(
                f"'{thing}' is none of: a run id (32 hex digits), an image URI or sha256 digest, a Bento "
                "or BentoML model tag (name:version), Model@alias or Model/<version>."
            )
        found["run"] = describe_run(client, run_id, broken) if run_id else None
        if found["run"] is not None:
            found["made_from_run"] = downstream(client, found["run"], broken)
    except MlflowException as exc:
        error = access_error(uri, exc)
        if error is None:
            raise
        raise error from None
    found["broken"] = broken
    return found


def downstream(client: Any, run: dict[str, Any], broken: list[str]) -> dict[str, Any]:
    """What was made from the run: registered versions, BentoML models, Bentos, pushed image."""
    # Search results leave aliases out: each version is read again.
    versions = [client.get_model_version(v.name, v.version)
                for v in client.search_model_versions(f"run_id = '{run['run_id']}'")]  # fmt: skip
    models = _store_models(run["run_id"])
    bentos = _bentos_with({m["tag"] for m in models}) if models else []
    image = run["image"]
    if image.get("bento_tag") and image["bento_tag"] not in bentos:
        try:
            import bentoml

            bentoml.get(image["bento_tag"])
            bentos.append(image["bento_tag"])
        except bentoml.exceptions.NotFound:
            broken.append(
                f"run {run['run_id']}: deploy.bento_tag {image['bento_tag']} is not in this BentoML store"
            )
    return {
        "model_versions": [
            {"name": v.name, "version": str(v.version), "aliases": list(v.aliases)} for v in versions
        ],
        "bentoml_models": [m["tag"] for m in models],
        "bentos": bentos,
        "images": [image] if image.get("image_uri") else [],
    }


def _aliases(version: dict[str, Any]) -> str:
    return " ".join("@" + alias for alias in version["aliases"])


def show(found: dict[str, Any], as_json: bool = False) -> str:
    """Format a trace as text (one link a line, upstream first) or as JSON."""
    if as_json:
        return json.dumps(found, indent=2, sort_keys=True)
    lines = [f"trace {found['query']}"]
    if "image" in found:
        image = found["image"]
        lines.append(f"  image          {image.get('image_uri', '?')}  {image.get('image_digest', '')}")
    if "bento" in found:
        lines.append(f"  bento          {found['bento']['tag']}")
    if "bentoml_model" in found:
        lines.append(f"  bentoml model  {found['bentoml_model']['tag']}")
    if "model_version" in found:
        mv = found["model_version"]
        lines.append(f"  registered     {mv['name']} version {mv['version']} {_aliases(mv)}")
    run = found.get("run")
    if run:
        lines += [
            f"  run            {run['run_id']} {run['status']} "
            f"pipeline={run['pipeline']} branch={run['branch']}",
            f"  git            {run['git_commit']} on {run['git_branch']} (dirty={run['git_dirty']})",
            f"  run.uid        {run['run_uid']}",
            f"  overrides      {' '.join(run['overrides']) or '(none)'}",
            f"  dataset        version {run['dataset_version'] or '?'}",
        ]
        lines += [
            f"  table          {d['name']} md5 {d['md5']} ({d['source']}, {d['dvc_status']})"
            for d in run["datasets"]
        ]
        made = found.get("made_from_run", {})
        lines.append("  made from this run:")
        lines += [f"    registered   {v['name']} version {v['version']} {_aliases(v)}"
                  for v in made.get("model_versions", [])]  # fmt: skip
        lines += [f"    bentoml      {tag}" for tag in made.get("bentoml_models", [])]
        lines += [f"    bento        {tag}" for tag in made.get("bentos", [])]
        lines += [
            f"    image        {i['image_uri']} {i.get('image_digest', '')}" for i in made.get("images", [])
        ]
        lines += [
            f"  deployed       {target}: {d.get('status', '?')} at {d.get('endpoint', '?')} "
            f"{d.get('image', '')} (revision {d.get('revision', '?')}, "
            f"{d.get('at', '?')} by {d.get('by', '?')})"
            for target, d in sorted(run.get("deployments", {}).items())
        ]
    lines += [f"  BROKEN         {line}" for line in found.get("broken", [])]
    return "\n".join(lines)
