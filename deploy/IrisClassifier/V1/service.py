"""The IrisClassifier V1 BentoML service: `POST /predict` with `{"records": [{...}, ...]}`.

    cd deploy/IrisClassifier/V1 && bentoml serve service:IrisClassifier   # http://127.0.0.1:3000

Records are checked against the columns and dtypes of `sample-input.csv`; every bad input
(a missing or extra column, a wrong type, a null or NaN, an empty list, too many records, a
body over `MAX_BODY_BYTES`, a body that is not JSON) is answered 400/413 with a message that
names the problem. Valid records from concurrent requests are grouped into one model call
(`Batcher`, adaptive batching inside the service).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import bentoml
import common

IMAGE = bentoml.images.Image(
    # No image can be pulled here: scripts/base-image.sh builds this one (Debian's python3 + uv).
    # A distro BentoML does not know: it installs no system packages (its default for debian is
    # build-essential and git, which a scikit-learn service does not need).
    base_image="localbase:bookworm",
    distro="localbase",
    python_version="3.11",
).python_packages(
    # Pinned to Pipfile.lock (a test checks they agree). mlflow-skinny is enough to load the
    # pyfunc model; skops reads the scikit-learn model that MLflow 3 saved.
    "bentoml==1.4.39",
    "mlflow-skinny==3.17.2",
    "scikit-learn==1.9.1",
    "skops==0.16.0",
    "pandas==3.1.1",
    "numpy==2.4.6",
)
"""The container: base image and Python packages (`bentoml build` locks them with uv)."""

SCHEMA = common.read_schema()
"""The input schema (column: kind), read from the sample input when the service is defined."""

MAX_BODY_BYTES = 1_000_000
"""The largest request body accepted (about 5 000 records)."""

DRAIN_BYTES = 20 * MAX_BODY_BYTES
"""How much of a body over the limit is read (and dropped) so the client gets its 413."""


class BodyLimit:
    """ASGI middleware: answer 413 to a request whose body is over `limit` bytes.

    The body is read here (declared length or not) and replayed to the app, so a chunked
    upload cannot slip past the limit. A body over the limit is read and dropped, then refused.
    """

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        """Wrap `app`, refusing bodies over `limit` bytes."""
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Handle one ASGI request."""
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        over = declared is not None and declared.isdigit() and int(declared) > self.limit
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
            over = over or size > self.limit
            if not over:
                chunks.append(message.get("body", b""))
            elif size > DRAIN_BYTES:  # stop reading a flood; the server closes the connection
                break
        if over:
            # Read (and drop) the body first: a client still sending would see a reset, not a 413.
            await self._refuse(send, max(size, int(declared or 0)))
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, size: int) -> None:
        text = json.dumps({"error": f"request body of {size}+ bytes is over the limit of {self.limit} bytes"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": text.encode()})


class Batcher:
    """Adaptive batching: the records of concurrent requests go to the model in one call.

    While the model works on one batch (in a thread), the next requests queue up and become
    the next batch, so the batch grows with the load and a lone request waits for nothing.
    """

    def __init__(self, predict: Any, max_records: int = 2000) -> None:
        """Batch calls of `predict(records) -> labels`, at most `max_records` records per call."""
        self.predict = predict
        self.max_records = max_records
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sizes: list[int] = []  # the size of each model call, newest last (kept short)

    async def __call__(self, records: list[dict]) -> list[str]:
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
                labels = await asyncio.to_thread(self.predict, [r for records, _ in batch for r in records])
            except Exception as exc:  # the callers get it: each request answers with this error
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            start = 0
            for records, done in batch:
                if not done.done():  # a caller that gave up (client gone) has a cancelled future
                    done.set_result(labels[start : start + len(records)])
                start += len(records)


@bentoml.service(
    image=IMAGE,
    traffic={"timeout": 30},
    # One log line per request costs more than the prediction; the load balancer logs access.
    logging={"access": {"enabled": False}},
)
class IrisClassifier:
    """Predict the Iris species of flower measurements (cm) with the imported MLflow model."""

    bento_model = bentoml.models.BentoModel(f"{common.MODEL_NAME}:latest")

    def __init__(self) -> None:
        """Load the model from the BentoML model store."""
        self.model = bentoml.mlflow.load_model(self.bento_model)
        self.batcher = Batcher(self.classify)

    @bentoml.api
    async def predict(self, records: Any = None, ctx: bentoml.Context = None) -> dict:
        """Predict the species of each record.

        Args:
            records: a list of objects with the sample input's columns, e.g.
                `[{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]`.
            ctx: the request context (BentoML passes it when serving).

        Returns:
            `{"predictions": ["setosa", ...], "timestamp": "<UTC ISO 8601>", "model": "<tag>"}`, or
            `{"error": "<what is wrong>"}` with status 400 for bad input.

        Raises:
            ValueError: bad input when the class is used directly (no request context).
        """
        try:
            if records is None:
                raise ValueError("the body must be a JSON object with 'records': a list of records")
            checked = common.check_records(records, SCHEMA)
        except ValueError as exc:
            if ctx is None:
                raise
            ctx.response.status_code = 400
            return {"error": str(exc)}
        return {
            "predictions": await self.batcher(checked),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "model": str(self.bento_model.tag),
        }

    def classify(self, records: list[dict]) -> list[str]:
        """Predict checked records (from one or many requests) in one model call."""
        import pandas as pd

        return [str(label) for label in self.model.predict(pd.DataFrame(records, columns=list(SCHEMA)))]


IrisClassifier.add_asgi_middleware(BodyLimit, limit=MAX_BODY_BYTES)
