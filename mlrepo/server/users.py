"""`python -m mlrepo users add|grant`: manage the tracking server's users through its REST API.

The caller logs in as an admin (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`, or
`~/.netrc`). A new user's password is read from a file, from standard input, or typed at a
prompt: never from the command line, never printed. A user reads everything (the server's
default permission is READ) and may change what it created; `grant` gives more.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from mlrepo.errors import UserError
from mlrepo.server.auth import request

PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")


def read_password(path: Path | None) -> str:
    """The new user's password: from `path`, else piped on standard input, else typed twice."""
    if path is not None:
        if not path.is_file():
            raise UserError(f"--password-file {path} does not exist.")
        password = path.read_text().strip()
    elif not sys.stdin.isatty():
        password = sys.stdin.readline().strip()
    else:
        password = getpass.getpass("New user's password: ")
        if getpass.getpass("Again: ") != password:
            raise UserError("The two passwords differ; nothing was changed.")
    if len(password) < 8:
        raise UserError("The password is shorter than 8 characters; nothing was changed.")
    return password


def add(uri: str, name: str, password: str, admin: bool = False) -> None:
    """Create the user `name` on the server at `uri` (an admin when `admin`).

    Raises:
        UserError: the caller is not an admin, the user exists, or the server does not answer.
    """
    try:
        request(uri, "POST", "api/2.0/mlflow/users/create", {"username": name, "password": password})
    except UserError as exc:
        if "RESOURCE_ALREADY_EXISTS" in str(exc):
            raise UserError(f"The user '{name}' already exists on {uri}.") from None
        raise
    if admin:
        request(uri, "PATCH", "api/2.0/mlflow/users/update-admin", {"username": name, "is_admin": True})


def grant(uri: str, name: str, target: str, permission: str, kind: str = "experiment") -> str:
    """Give the user `name` `permission` on an experiment (by name) or a registered model.

    Args:
        uri: the server.
        name: the user.
        target: the experiment's name (kind `experiment`) or the registered model's name.
        permission: READ, USE, EDIT, MANAGE or NO_PERMISSIONS.
        kind: `experiment` or `registered_model`.

    Returns:
        The resource id the permission was set on (the experiment id, or the model name).

    Raises:
        UserError: an unknown permission, experiment or user, or the caller may not grant.
    """
    permission = permission.upper()
    if permission not in PERMISSIONS:
        raise UserError(f"Unknown permission '{permission}': use one of {', '.join(PERMISSIONS)}.")
    resource = target
    if kind == "experiment":
        try:
            found = request(uri, "GET", "api/2.0/mlflow/experiments/get-by-name", {"experiment_name": target})
        except UserError as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc):
                raise UserError(f"There is no experiment '{target}' on {uri}.") from None
            raise
        resource = found["experiment"]["experiment_id"]
    body = {"username": name, "resource_type": kind, "resource_id": resource, "permission": permission}
    request(uri, "POST", "api/3.0/mlflow/users/permissions/grant", body)
    return resource
