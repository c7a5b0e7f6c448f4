"""Credentials for the tracking server, and the one-line errors when they are missing or wrong.

Clients authenticate as MLflow does: `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`,
else a `~/.netrc` entry (`$NETRC` names another file) for the server's host. Nothing here
prints a password; messages name the variables to set, never their values.
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from mlrepo.errors import UserError

USER_VAR = "MLFLOW_TRACKING_USERNAME"
PASSWORD_VAR = "MLFLOW_TRACKING_PASSWORD"  # pragma: allowlist secret (a variable name)


def credentials(uri: str) -> tuple[str, str] | None:
    """The (username, password) to send to the server at `uri`, or None when none is configured.

    Args:
        uri: the server's URL (`http://host:port`).

    Returns:
        The pair from the environment, else from the netrc file's entry for the host.
    """
    user, password = os.environ.get(USER_VAR), os.environ.get(PASSWORD_VAR)
    if user and password is not None:
        return user, password
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    if not os.path.isfile(path):
        return None
    try:
        entry = netrc.netrc(path).authenticators(urllib.parse.urlsplit(uri).hostname or "")
    except (netrc.NetrcParseError, OSError):
        return None
    if entry is None:
        return None
    login, _, secret = entry
    return (login, secret or "") if login else None


def headers(uri: str) -> dict[str, str]:
    """HTTP headers for a request to `uri`: JSON, plus basic authentication when configured."""
    out = {"Content-Type": "application/json"}
    pair = credentials(uri)
    if pair is not None:
        token = base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
        out["Authorization"] = f"Basic {token}"
    return out


def refused(uri: str, status: int, what: str = "the request") -> UserError:
    """The one-line error for a 401 (who are you) or 403 (you may not) from the server at `uri`."""
    pair = credentials(uri)
    if status == 403 and pair is not None:
        return UserError(
            f"The MLflow tracking server {uri} refused {what} to user '{pair[0]}' (403 permission "
            "denied): ask an admin for `python -m mlrepo users grant "
            f"{pair[0]} <experiment> EDIT`, or set {USER_VAR} and {PASSWORD_VAR} to a user who may."
        )
    given = "was refused" if pair is not None else "is missing"
    return UserError(
        f"The MLflow tracking server {uri} needs a user: the login {given} ({status}). "
        f"Set {USER_VAR} and {PASSWORD_VAR} (or a ~/.netrc entry for its host); "
        "an admin adds users with `python -m mlrepo users add NAME`."
    )


def access_error(uri: str, exc: Exception) -> UserError | None:
    """The one-line error for an MLflow client exception that is about credentials, else None."""
    code, text = str(getattr(exc, "error_code", "")), str(exc)
    if code == "UNAUTHENTICATED" or "error code 401" in text:
        return refused(uri, 401, "the write")
    if code == "PERMISSION_DENIED" or "error code 403" in text:
        return refused(uri, 403, "the write")
    return None


#: How long a client keeps retrying a server that does not answer (a restart takes ~15 s).
WAIT_VAR = "MLREPO_SERVER_WAIT_S"
DEFAULT_WAIT_S = 20.0


def _send(req: urllib.request.Request, timeout: float) -> dict[str, Any]:
    """Send `req`; while the server refuses connections (restarting), retry with backoff, bounded."""
    deadline = time.monotonic() + float(os.environ.get(WAIT_VAR, DEFAULT_WAIT_S))
    pause = 0.5
    while True:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError:
            raise
        except urllib.error.URLError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def request(
    uri: str, method: str, endpoint: str, body: dict | None = None, timeout: float = 30
) -> dict[str, Any]:
    """Call the server's REST API with the configured credentials and return the JSON answer.

    Args:
        uri: the server (`http://host:port`).
        method: GET, POST, PATCH or DELETE.
        endpoint: the path after the host, e.g. `api/2.0/mlflow/users/create`.
        body: the JSON body (GET: sent as query parameters).
        timeout: seconds to wait for one answer. A server that refuses connections is tried
            again, with backoff, for `MLREPO_SERVER_WAIT_S` seconds (default 20).

    Returns:
        The decoded JSON answer (an empty dict for an empty body).

    Raises:
        UserError: the server does not answer, refuses the login or the permission, or
            answers another error (its message is quoted).
    """
    base = uri.rstrip("/")
    url = f"{base}/{endpoint.lstrip('/')}"
    data = None
    if body is not None and method == "GET":
        url += "?" + urllib.parse.urlencode(body)
    elif body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers(base), method=method)
    try:
        return _send(req, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise refused(base, exc.code) from None
        try:
            answer = json.loads(exc.read() or b"{}")
            message = f"{answer.get('error_code', '')}: {answer.get('message', '')}"
        except ValueError:
            message = ""
        raise UserError(
            f"The MLflow tracking server {base} answered {exc.code} to {endpoint}: {message}"
        ) from None
    except urllib.error.URLError as exc:
        raise UserError(
            f"The MLflow tracking server {base} does not answer ({exc.reason}). "
            "Start it with `make mlflow-server`, or point MLFLOW_TRACKING_URI at another store."
        ) from None
