"""The server's login check: MLflow's basic auth, plus users that may only read (the `ci` user).

MLflow lets any authenticated user create experiments and registered models (and gives the
creator MANAGE on them); a read-only user must not. The server names this function as its
`authorization_function` (see scripts/mlflow-server.sh); the read-only users are listed in
`MLREPO_READ_ONLY_USERS` (comma-separated) in the server's environment.
"""

from __future__ import annotations

import functools
import os
from typing import Any

READ_ONLY_VAR = "MLREPO_READ_ONLY_USERS"
#: Allocations between young-generation collections in a server worker (Python's default: 700).
GC_YOUNG = 10_000
#: Last path segments of requests that only read, even when sent as POST (searches).
READ_PREFIXES = ("search", "get", "list")


def is_write(method: str, path: str) -> bool:
    """Whether a request changes something: any non-GET request that is not a search or a get."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return not last.startswith(READ_PREFIXES)


def read_only_users() -> set[str]:
    """The users named in `MLREPO_READ_ONLY_USERS`."""
    return {name.strip() for name in os.environ.get(READ_ONLY_VAR, "").split(",") if name.strip()}


def authenticate() -> Any:
    """MLflow's basic-auth check; a read-only user's write request is refused with 403.

    Returns:
        The request's `Authorization`, or the 401/403 `Response` to send instead.
    """
    from flask import Response, request
    from mlflow.server.auth import authenticate_request_basic_auth, make_forbidden_response

    _settle()

    result = authenticate_request_basic_auth()
    if isinstance(result, Response):
        return result
    if result.username in read_only_users() and is_write(request.method, request.path):
        return make_forbidden_response()
    return result


@functools.cache
def _settle() -> None:
    """Once per server worker, at its first request: take the loaded server out of the collector.

    A worker holds MLflow, SQLAlchemy and Flask (millions of objects); a search that builds a
    thousand runs' objects triggers collections that walk all of them again and again: half the
    worker's time on a `runs/search` page. Freezing what is loaded by the first request (as the
    model server does after loading its model) and collecting the young generation less often
    answers a 1000-run page in 0.28 s of CPU instead of 0.46 s (measured in a worker's process).
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
