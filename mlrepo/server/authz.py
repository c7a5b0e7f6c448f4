"""The server's login check: MLflow's basic auth, plus users that may only read (the `ci` user).

MLflow lets any authenticated user create experiments and registered models (and gives the
creator MANAGE on them); a read-only user must not. The server names this function as its
`authorization_function` (see scripts/mlflow-server.sh); the read-only users are listed in
`MLREPO_READ_ONLY_USERS` (comma-separated) in the server's environment.
"""

from __future__ import annotations

import os
from typing import Any

READ_ONLY_VAR = "MLREPO_READ_ONLY_USERS"
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

    result = authenticate_request_basic_auth()
    if isinstance(result, Response):
        return result
    if result.username in read_only_users() and is_write(request.method, request.path):
        return make_forbidden_response()
    return result
