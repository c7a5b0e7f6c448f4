"""Setup steps of `scripts/mlflow-server.sh` that talk to the S3 API or the server's user API.

`python -m mlrepo.server.stack bucket ENDPOINT BUCKET` creates the artifact bucket when missing;
`python -m mlrepo.server.stack user URI NAME PASSWORD_FILE` creates a (non-admin) user when
missing, as the admin named by `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`.
Passwords are read from files (mode 0600), never from the command line, and never printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlrepo.errors import UserError


def ensure_bucket(endpoint: str | None, bucket: str) -> bool:
    """Create the S3 bucket `bucket` at `endpoint` (None: AWS itself) unless it exists.

    Returns:
        True when it was created.
    """
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", endpoint_url=endpoint or None)
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError:
        s3.create_bucket(Bucket=bucket)
        return True


def ensure_user(uri: str, name: str, password: str) -> bool:
    """Create the user `name` on the server at `uri` unless it exists (needs an admin login).

    Returns:
        True when it was created.
    """
    from mlrepo.server.auth import request

    try:
        request(uri, "GET", "api/2.0/mlflow/users/get", {"username": name})
        return False
    except UserError as exc:
        if "RESOURCE_DOES_NOT_EXIST" not in str(exc) and " 404 " not in str(exc):
            raise
    request(uri, "POST", "api/2.0/mlflow/users/create", {"username": name, "password": password})
    return True


def main(argv: list[str]) -> int:
    """Run one setup step (see the module docstring); return the exit code."""
    try:
        if argv[:1] == ["bucket"] and len(argv) == 3:
            created = ensure_bucket(argv[1], argv[2])
            print(f"S3 bucket {argv[2]} {'created' if created else 'ready'}")
            return 0
        if argv[:1] == ["user"] and len(argv) == 4:
            password = Path(argv[3]).read_text().strip()
            created = ensure_user(argv[1], argv[2], password)
            print(f"MLflow user {argv[2]} {'created' if created else 'ready'}")
            return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
