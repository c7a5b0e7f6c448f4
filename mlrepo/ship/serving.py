"""The serving machinery every deploy version shares: a deploy's `service.py` declares its model,
image and hooks; this module serves it.

    @bentoml.service(image=serving.image(...pins...), **serving.SERVICE_CONFIG)
    class IrisClassifier(serving.ModelService):
        bento_model = bentoml.models.BentoModel("iris_classifier:latest")
        predict = serving.predict_api(bento_model)

    serving.guard(IrisClassifier)

What it provides:

- `predict_api`: `POST /predict` with `{"records": [...]}`, typed from the model's signature
  (the record fields, their types and an example from the sample input show at `/docs`),
  answering `{"predictions": [...], "timestamp": ..., "model": ...}`.
- `Gate` (installed by `guard`): every input error is a 4xx `{"error": "..."}` naming the
  record and column (validated here, before BentoML, so the message is ours); bodies over the
  limit are read and dropped up to `DRAIN_BYTES`, then answered 413; `GET /` is a page to try
  the model, generated from the schema (no CDN); `GET /docs` is BentoML's OpenAPI page.
- `Batcher`: the records of concurrent requests go to the model in one call.
- Only a failure of the model itself is a 500, logged with its traceback; a request that breaks
  the model fails alone, not the other requests batched with it.
- The OpenAPI document (`/docs.json`) states what the gate accepts (1 to `max_records` records,
  no other field, numbers within `records.limit`, a required body): `make fuzz` holds it to that.

This module and `mlrepo/ship/records.py` travel inside the Bento (`mlrepo/ship/ecr.sh` stages them).
"""

import asyncio
import gc
import html
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import bentoml
from pydantic import ConfigDict, Field, create_model

from mlrepo.ship import records as rec

logger = logging.getLogger("mlrepo.ship.serving")

BASE_IMAGE = "localbase:bookworm"
"""No image can be pulled here: `scripts/base-image.sh` builds this one (Debian's python3 + uv)."""

SERVICE_CONFIG = {
    "traffic": {"timeout": 30},
    # One log line per request costs more than the prediction; the load balancer logs access.
    "logging": {"access": {"enabled": False}},
}
"""The `@bentoml.service(...)` options every deploy uses."""

MAX_BODY_BYTES = 1_000_000
"""The largest request body accepted (about 5 000 records)."""

DRAIN_BYTES = 64 * 1024 * 1024
"""A body over the limit is read (and dropped) up to this size so that the client, which sends
the whole body before it reads the answer, sees the 413; past it the connection is closed."""

_PY_TYPES = {"number": float, "integer": int, "boolean": bool, "string": str}


def image(*packages: str) -> Any:
    """The container image of a deploy: the local base image and these pinned packages.

    Args:
        packages: `name==version` pins (a test checks them against Pipfile.lock).
    """
    # A distro BentoML does not know: it installs no system packages (its default for debian
    # is build-essential and git, which a scikit-learn service does not need).
    base = bentoml.images.Image(base_image=BASE_IMAGE, distro="localbase", python_version="3.11")
    return base.python_packages(*packages)


def stored_contract(bento_model: Any) -> tuple[rec.Schema, dict[str, Any]]:
    """The input schema and an example record that `create_bento_model.py` stored with the model.

    Raises:
        RuntimeError: the BentoML store has no such model, or it was imported without a schema.
    """
    stored = bento_model.stored
    if stored is None:
        raise RuntimeError(
            f"The BentoML model store has no model '{bento_model.tag}'. Import a run first: "
            "`make bento-model MODEL=<Model>/V<n>` (BENTOML_HOME chooses the store)."
        )
    meta = stored.info.metadata
    if "input_schema" not in meta:
        raise RuntimeError(
            f"The BentoML model {stored.tag} has no input schema (imported by an older deploy); "
            "import the run again with `make bento-model MODEL=<Model>/V<n>`."
        )
    return [tuple(pair) for pair in meta["input_schema"]], dict(meta.get("example", {}))


def stored_categories(bento_model: Any) -> dict[str, list[str]]:
    """The allowed values of the model's categorical columns, stored by `create_bento_model.py`
    (`{}` for a model imported without them)."""
    stored = bento_model.stored
    return dict(stored.info.metadata.get("categories") or {}) if stored is not None else {}


def record_type(
    schema: rec.Schema, example: dict[str, Any], categories: rec.Categories | None = None
) -> type:
    """The pydantic model of one record: each column with its JSON type, its range (numbers:
    `records.limit`, so that the OpenAPI document says what the checks accept) and an example;
    a categorical column is a `Literal` of its allowed values (an `enum` in the OpenAPI schema)."""
    categories = categories or {}
    fields = {}
    for column, kind in schema:
        examples = [example[column]] if column in example else None
        if column in categories:
            fields[column] = (Literal[tuple(categories[column])], Field(examples=examples))
            continue
        bound = rec.limit(kind)
        fields[column] = (
            _PY_TYPES[rec.KINDS[kind]],
            Field(examples=examples, ge=-bound if bound is not None else None, le=bound),
        )
    return create_model("Record", __config__=ConfigDict(extra="forbid"), **fields)


def labels(model: Any, frame: Any) -> list:
    """The default inference: the model's predictions as JSON values (class names as text, a
    regression's values as numbers)."""
    import numpy as np

    return np.asarray(direct_predict(model)(frame)).tolist()


def direct_predict(model: Any) -> Callable[[Any], Any]:
    """The fastest correct `predict(frame)` of an MLflow pyfunc model.

    The frame a service builds already has the signature's columns, order and dtypes
    (`records.to_frame` after `records.check_records`), so MLflow's schema enforcement would
    only repeat that work: a scikit-learn model is called directly (half the cost of a pyfunc
    call per batch). Any other flavour goes through `model.predict`.
    """
    found = getattr(model, "_mlrepo_predict", None)
    if found is None:
        flavors = getattr(model.metadata, "flavors", {})
        if "sklearn" in flavors:  # the method the pyfunc calls (`pyfunc_predict_fn` when logged)
            method = flavors.get("python_function", {}).get("predict_fn", "predict")
            found = getattr(model.get_raw_model(), method)
        else:
            found = model.predict
        model._mlrepo_predict = found  # decided once per loaded model
    return found


def predict_api(
    bento_model: Any,
    *,
    infer: Callable[[Any, Any], list] = labels,
    preprocess: Callable[[Any], Any] | None = None,
    postprocess: Callable[[Any, list], list] | None = None,
    max_records: int = rec.MAX_RECORDS,
    threaded: bool = False,
    unseen_allowed: bool = False,
) -> Any:
    """The `POST /predict` API of a deploy, typed from its model's stored signature.

    Args:
        bento_model: the service's `bentoml.models.BentoModel`.
        infer: `infer(model, frame) -> list`, one JSON value per row (default: `labels`). `model`
            is the MLflow pyfunc model; `model.get_raw_model()` gives the framework's own.
        preprocess: `preprocess(frame) -> frame` before inference (features the model needs).
        postprocess: `postprocess(frame, outputs) -> outputs` after inference.
        max_records: the most records one request may hold.
        threaded: run the model in a worker thread. Off by default: a model that holds the GIL
            (scikit-learn, pandas) then fights the event loop for it, and measured on Iris the
            service served 320 req/s threaded against 575 on the loop (concurrency 32). Turn
            it on for a model that releases the GIL for long calls (TensorFlow, PyTorch), so
            that the loop keeps accepting requests meanwhile.
        unseen_allowed: serve categorical columns as any string. By default a string column whose
            training values form a small set (`records.MAX_CATEGORIES`, logged by the run) is an
            enumeration: `/docs` and the try-it page list its values and an unseen one is a 400
            naming record, column and allowed values. Set it for a model whose encoder handles
            unknown values (`OneHotEncoder(handle_unknown="ignore")`) when such inputs are expected.

    Returns:
        A BentoML API method to assign as a class attribute (`predict = predict_api(...)`).
    """
    schema, example = stored_contract(bento_model)
    categories = {} if unseen_allowed else stored_categories(bento_model)
    record = record_type(schema, example, categories)
    # The document says what the gate accepts: 1 to max_records records (found by `make fuzz`:
    # a schema-valid empty list was refused with a 400).
    batch = Annotated[list[record], Field(min_length=1, max_length=max_records)]  # type: ignore[valid-type]

    async def predict(self: Any, records: batch, ctx: bentoml.Context = None) -> dict:  # type: ignore[valid-type]
        """Predict each record: `{"predictions": [...], "timestamp": "<UTC ISO 8601>", "model": "<tag>"}`.

        Called directly (no request context) a bad record raises ValueError; over HTTP the
        gate has already answered it with a 400.
        """
        rows = [r if isinstance(r, dict) else r.__dict__ for r in records]
        if ctx is None:
            rec.check_records(rows, schema, max_records, categories)
        outputs = await self._batcher("predict", run, threaded)(rows)
        return {
            "predictions": outputs,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "model": str(self.bento_model.tag),
        }

    def run(model: Any, rows: list[dict]) -> list:
        frame = rec.to_frame(rows, schema)
        if preprocess is not None:
            frame = preprocess(frame)
        outputs = infer(model, frame)
        return postprocess(frame, outputs) if postprocess is not None else outputs

    predict.__mlrepo_contract__ = (schema, example, max_records, categories)
    method = bentoml.api(route="/predict")(predict)
    # Nothing but `records` (the gate refuses any other field): the document says so too, found
    # by `make fuzz` (a body with an extra field was schema-valid and refused).
    method.input_spec.model_config["extra"] = "forbid"
    method.input_spec.model_rebuild(force=True)
    method.__class__ = _required_body(type(method))
    return json_answers(method)


def _required_body(api_class: type) -> type:
    """BentoML's API method class, documenting its request body as required (found by
    `make fuzz`: a POST without a body was schema-valid, and refused)."""

    class RecordsAPIMethod(api_class):
        __slots__ = ()

        def openapi_request(self) -> dict:
            return {**super().openapi_request(), "required": True}

    return RecordsAPIMethod


def json_answers(method: Any) -> Any:
    """Declare that an API answers JSON, so BentoML does not derive the media type from the
    output's JSON schema on every response (0.6 ms a request with BentoML 1.4.40: profiled)."""
    method.output_spec.media_type = "application/json"
    return method


class ModelService:
    """The base of every deploy's service class: loads `bento_model` and batches model calls."""

    bento_model: Any

    def __init__(self) -> None:
        """Load the model from the BentoML model store (an MLflow pyfunc model), then freeze the
        objects loaded so far out of the garbage collector's reach."""
        self.model = bentoml.mlflow.load_model(self.bento_model)
        self.batchers: dict[str, Batcher] = {}
        # What is loaded now lives as long as the process: keep it out of the garbage collector's
        # full passes, which otherwise stall every request in flight (p99 at concurrency 32 on
        # Iris: 390 ms before, 206 ms after, measured by bench/serve.py).
        gc.collect()
        gc.freeze()

    def _batcher(self, name: str, run: Callable[[Any, list[dict]], list], threaded: bool) -> "Batcher":
        if name not in self.batchers:
            self.batchers[name] = Batcher(lambda rows: run(self.model, rows), threaded=threaded)
        return self.batchers[name]


class Batcher:
    """Adaptive batching: the records of concurrent requests go to the model in one call.

    While the model works on one batch, the next requests queue up and become the next batch,
    so the batch grows with the load and a lone request waits for nothing.
    BentoML's `batchable=True` is not used: its self-call from a validating endpoint dropped
    connections under load with BentoML 1.4.39 (docs/guides/deploy.md).
    """

    def __init__(
        self, predict: Callable[[list[dict]], list], max_records: int = 2000, threaded: bool = False
    ) -> None:
        """Batch calls of `predict(records) -> outputs`, at most `max_records` records per call;
        in a worker thread if `threaded`, else on the event loop (see `predict_api`)."""
        self.predict = predict
        self.max_records = max_records
        self.threaded = threaded
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sizes: list[int] = []  # the size of each model call, newest last (kept short)

    async def __call__(self, records: list[dict]) -> list:
        """Predict `records` together with whatever else is queued."""
        if self.loop is not asyncio.get_running_loop():  # first call, or a new event loop
            self.loop = asyncio.get_running_loop()
            self.queue: asyncio.Queue = asyncio.Queue()
            self.worker = self.loop.create_task(self._run())
        done = self.loop.create_future()
        self.queue.put_nowait((records, done))
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            size = len(batch[0][0])
            while not self.queue.empty() and size < self.max_records:
                batch.append(self.queue.get_nowait())
                size += len(batch[-1][0])
            self.sizes = [*self.sizes[-99:], size]
            try:
                rows = [r for records, _ in batch for r in records]
                outputs = await self._predict(rows)
            except Exception as exc:  # the model's own failure: each caller answers 500
                if len(batch) > 1:  # one request may be what broke it: the others still get answers
                    for records, done in batch:
                        await self._run_alone(records, done)
                    continue
                logger.exception("the model failed on a batch of %d records", size)
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                continue
            start = 0
            for records, done in batch:
                if not done.done():  # a caller that gave up (client gone) has a cancelled future
                    done.set_result(outputs[start : start + len(records)])
                start += len(records)

    async def _predict(self, rows: list[dict]) -> list:
        return await asyncio.to_thread(self.predict, rows) if self.threaded else self.predict(rows)

    async def _run_alone(self, records: list[dict], done: asyncio.Future) -> None:
        """Predict one caller's records by themselves (after its batch failed)."""
        try:
            outputs = await self._predict(records)
        except Exception as exc:
            logger.exception("the model failed on a request of %d records", len(records))
            if not done.done():
                done.set_exception(exc)
            return
        if not done.done():
            done.set_result(outputs)


def guard(service: Any, limit: int = MAX_BODY_BYTES) -> None:
    """Put the `Gate` in front of a service: size limit, input checks, the try-it page."""
    contracts = {}
    for name, method in service.apis.items():
        contract = getattr(method.func, "__mlrepo_contract__", None)
        if contract is not None:
            contracts[method.route or f"/{name}"] = contract
    service.add_asgi_middleware(Gate, contracts=contracts, limit=limit, title=service.name)


class InputError(ValueError):
    """A request the client must fix: answered with `status` and the message."""

    def __init__(self, message: str, status: int = 400) -> None:
        """An input error with its HTTP status."""
        super().__init__(message)
        self.status = status


def parse_body(
    body: bytes,
    content_type: str,
    schema: rec.Schema,
    max_records: int,
    categories: rec.Categories | None = None,
) -> list[dict]:
    """Parse and check a `/predict` body; return its records.

    Raises:
        InputError: anything wrong with the body (415 for a content type that is not JSON).
    """
    media = content_type.split(";")[0].strip().lower()
    if media and media != "application/json":
        raise InputError(f"send the body as JSON with 'Content-Type: application/json', not '{media}'", 415)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"the body is not UTF-8 text (byte {exc.start}); send UTF-8 JSON") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InputError("the body is nested too deeply to be a request") from None
    except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
        raise InputError(f"the body is not acceptable JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or "records" not in data:
        raise InputError("the body must be a JSON object with 'records': a list of records")
    extra = [str(key) for key in data if key != "records"]
    if extra:
        raise InputError(f"unexpected field(s) {', '.join(map(repr, extra))} next to 'records'")
    try:
        return rec.check_records(data["records"], schema, max_records, categories)
    except ValueError as exc:
        raise InputError(str(exc)) from None


class Gate:
    """ASGI middleware in front of a deploy's service (installed by `guard`).

    For each record API: reads the body (declared length or chunked) up to the limit, answers
    413 after draining a larger one, and checks the records so that every input error is a 4xx
    with a message that names the record and column. `GET /` serves the try-it page and
    `GET /docs` BentoML's OpenAPI page. Any other method on a record API is a 405 (`Allow: POST`),
    and every 4xx the service answers, BentoML's own included, is JSON `{"error": "..."}`.
    """

    def __init__(self, app: Any, contracts: dict, limit: int = MAX_BODY_BYTES, title: str = "") -> None:
        """Wrap `app`; `contracts` maps each API route to `(schema, example, max_records, categories)`."""
        self.app = app
        self.contracts = contracts
        self.limit = limit
        self.page = try_it_page(title, contracts).encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Handle one ASGI request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/":
            await _answer(send, 200, self.page, b"text/html; charset=utf-8")
            return
        if method == "GET" and path == "/docs":
            await self.app({**scope, "path": "/", "raw_path": b"/"}, receive, send)
            return
        if path in self.contracts and method != "POST":  # found by `make fuzz`: PUT was checked as a body
            text = f"{method} is not allowed on {path}; send POST with a JSON body"
            await _answer(send, 405, json.dumps({"error": text}).encode(), extra=[(b"allow", b"POST")])
            return
        if method not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, _json_errors(send))
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        declared_size = int(declared) if declared is not None and declared.isdigit() else 0
        chunks, size, more = [], 0, True
        over = declared_size > self.limit
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
            over = over or size > self.limit
            if not over:
                chunks.append(message.get("body", b""))
            elif size > DRAIN_BYTES:  # a flood: stop reading, the server closes the connection
                break
        if over:
            text = (
                f"request body of {max(size, declared_size)}+ bytes is over the limit of {self.limit} bytes"
            )
            await _answer(send, 413, json.dumps({"error": text}).encode())
            return
        body = b"".join(chunks)
        contract = self.contracts.get(path)
        if contract is not None:
            try:
                parse_body(
                    body, headers.get(b"content-type", b"").decode("latin-1"), contract[0], contract[2],
                    contract[3] if len(contract) > 3 else None,
                )  # fmt: skip
            except InputError as exc:
                await _answer(send, exc.status, json.dumps({"error": str(exc)}).encode())
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send if contract is not None else _json_errors(send))


async def _answer(
    send: Any, status: int, body: bytes, kind: bytes = b"application/json", extra: list | None = None
) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _json_errors(send: Any) -> Any:
    """Wrap an ASGI `send` so that a 4xx answer that is not JSON (BentoML's and Starlette's plain
    "Method Not Allowed", "Not Found") goes out as `{"error": "<its text>"}`, like every other
    client error of the service (found by `make fuzz`: TRACE /healthz answered plain text)."""
    held: dict = {}
    parts: list[bytes] = []

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            if 400 <= message["status"] < 500 and b"json" not in headers.get(b"content-type", b""):
                held["start"] = message
                return
        elif message["type"] == "http.response.body" and "start" in held:
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start = held.pop("start")
            text = b"".join(parts).decode("utf-8", "replace").strip() or f"HTTP {start['status']}"
            body = json.dumps({"error": text}).encode()
            kept = [
                (k, v) for k, v in start.get("headers", []) if k not in (b"content-type", b"content-length")
            ]
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({**start, "headers": headers + kept})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return wrapped


def try_it_page(title: str, contracts: dict) -> str:
    """A self-contained HTML page (inline CSS and JavaScript, no CDN) to try each record API:
    a form generated from its schema for one record, or CSV rows pasted with a header."""
    forms = []
    for route, contract in contracts.items():
        schema, example = contract[0], contract[1]
        categories = contract[3] if len(contract) > 3 else {}
        inputs = "".join(_field(column, kind, example, categories.get(column)) for column, kind in schema)
        header = ",".join(column for column, _ in schema)
        sample = ",".join(str(example.get(column, "")) for column, _ in schema)
        forms.append(
            f'<section data-route="{html.escape(route)}"><h2>POST {html.escape(route)}</h2>'
            f'<form class="record">{inputs}<button type="submit">Predict this record</button></form>'
            f"<p>or paste CSV rows (first line: the header)</p>"
            f'<textarea class="csv" rows="5">{html.escape(header)}\n{html.escape(sample)}</textarea>'
            f'<button class="send-csv">Predict these rows</button>'
            f'<pre class="answer" aria-live="polite"></pre></section>'
        )
    return _PAGE.replace("{title}", html.escape(title)).replace("{forms}", "".join(forms))


def _field(column: str, kind: str, example: dict[str, Any], allowed: list[str] | None) -> str:
    """One record field of the try-it page: an `<input>`, or a `<select>` of a categorical column's values."""
    name, shown = html.escape(column), html.escape(kind if allowed is None else f"one of {len(allowed)}")
    if allowed is not None:
        options = "".join(
            f"<option{' selected' if value == example.get(column) else ''}>{html.escape(value)}</option>"
            for value in allowed
        )
        control = f'<select name="{name}" data-kind="string">{options}</select>'
    else:
        value = html.escape(str(example.get(column, "")))
        control = f'<input name="{name}" data-kind="{rec.KINDS[kind]}" value="{value}">'
    return f"<label>{name} <small>{shown}</small>{control}</label>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}: try it</title>
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
label{display:inline-block;margin:.3rem 1rem .3rem 0}label small{color:#777}
input,select{display:block;width:9rem;padding:.2rem}textarea{width:100%;font-family:monospace}
button{margin:.5rem 0;padding:.3rem .8rem}pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap}
.error{color:#a00}.answer:empty{display:none}
</style></head><body>
<h1>{title}</h1><p>Send records to the model and see its answer. The API reference is at
<a href="docs">/docs</a>.</p>
{forms}
<script>
function typed(text, kind){
  const t = text.trim();
  if (t === "") return null;
  if (kind === "number" || kind === "integer") { const n = Number(t); return isNaN(n) ? t : n; }
  if (kind === "boolean") return t.toLowerCase() === "true" ? true : t.toLowerCase() === "false" ? false : t;
  return t;
}
async function send(section, records){
  const out = section.querySelector(".answer");
  out.textContent = "…"; out.className = "answer";
  try {
    const r = await fetch(section.dataset.route, {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({records})});
    const data = await r.json();
    out.className = r.ok ? "answer" : "answer error";
    out.textContent = (r.ok ? "" : r.status + ": ") + JSON.stringify(r.ok ? data : data.error, null, 1);
  } catch (e) { out.className = "answer error"; out.textContent = String(e); }
}
for (const section of document.querySelectorAll("section[data-route]")) {
  const kinds = {};
  section.querySelectorAll("input, select").forEach(i => kinds[i.name] = i.dataset.kind);
  section.querySelector("form").addEventListener("submit", ev => {
    ev.preventDefault();
    const record = {};
    section.querySelectorAll("input, select").forEach(i => record[i.name] = typed(i.value, i.dataset.kind));
    send(section, [record]);
  });
  section.querySelector(".send-csv").addEventListener("click", () => {
    const lines = section.querySelector(".csv").value.split(/\\r?\\n/).filter(l => l.trim());
    const header = lines.shift().split(",").map(h => h.trim());
    send(section, lines.map(line => {
      const cells = line.split(","), record = {};
      header.forEach((h, i) => record[h] = typed(cells[i] ?? "", kinds[h] || "string"));
      return record;
    }));
  });
}
</script></body></html>
"""
