"""`make mlflow-backup` / `make mlflow-restore FILE=...`: the team server's state in one file.

A backup is a `.tar.gz` (mode 0600: it holds the users' password hashes) with a plain SQL dump
of the tracking database and of the permission database (`pg_dump --clean`), and every object
under the artifact location (`MLREPO_ARTIFACTS`, default `s3://mlrepo-artifacts/mlflow`). A
restore stops the MLflow server, loads both dumps (replacing what is there), replaces the
artifact objects, and starts the server again. Settings are those of scripts/mlflow-server.sh.

    python -m mlrepo.server.backup backup [--out DIR]
    python -m mlrepo.server.backup restore FILE
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from mlrepo import ROOT
from mlrepo.errors import UserError

#: The loopback S3 API (moto) takes any key pair: these dummies, as scripts/mlflow-server.sh gives it.
MOTO_KEYS = {
    "aws_access_key_id": "mlrepo-local",
    "aws_secret_access_key": "mlrepo-local",  # pragma: allowlist secret
    "region_name": "us-east-1",
}


def settings() -> dict[str, Any]:
    """The stack's settings, read from the environment as scripts/mlflow-server.sh reads them."""
    env = os.environ
    db = env.get("MLREPO_PG_DB", "mlflow")
    artifacts = env.get("MLREPO_ARTIFACTS", "s3://mlrepo-artifacts/mlflow")
    bucket, _, prefix = artifacts.removeprefix("s3://").partition("/")
    user, port = env.get("MLREPO_PG_USER", "mlflow"), env.get("MLREPO_PG_PORT", "5433")
    return {
        "pg": f"postgresql://{user}@127.0.0.1:{port}",
        "databases": [db, f"{db}_auth"],
        "bucket": bucket,
        "prefix": prefix.rstrip("/") + "/" if prefix else "",
        "moto": env.get("MLREPO_S3", "moto") == "moto",
        "s3_endpoint": f"http://127.0.0.1:{env.get('MLREPO_S3_PORT', '5052')}",
        "dir": Path(env.get("MLREPO_SERVER_DIR", ROOT / ".mlflow" / "server")),
    }


def _pg_tool(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise UserError(f"{name} is missing: start the server once (make mlflow-server installs PostgreSQL).")
    return found[-1]


def _s3(cfg: dict[str, Any]) -> Any:
    import boto3

    if cfg["moto"]:
        return boto3.client("s3", endpoint_url=cfg["s3_endpoint"], **MOTO_KEYS)
    return boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None)


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _run(args: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise UserError(f"{what} failed: {done.stderr.strip()[-1000:]}")
    return done


def backup(out_dir: Path) -> Path:
    """Write a backup of the running stack into `out_dir`; return the file.

    Raises:
        UserError: PostgreSQL or the bucket cannot be read.
    """
    cfg = settings()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"mlflow-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
    s3 = _s3(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for db in cfg["databases"]:
            dump = _run([_pg_tool("pg_dump"), "--clean", "--if-exists", "--no-owner", f"{cfg['pg']}/{db}"],
                        f"pg_dump of {db}")  # fmt: skip
            (work / f"{db}.sql").write_text(dump.stdout)
        keys = _keys(s3, cfg["bucket"], cfg["prefix"])
        for key in keys:
            path = work / "bucket" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(cfg["bucket"], key, str(path))
        manifest = {"databases": cfg["databases"], "bucket": cfg["bucket"], "objects": keys,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
            tar.add(work, arcname=".")
    return target


def restore(file: Path) -> dict[str, Any]:
    """Restore a backup into the stack: stop the server, load the dumps and objects, start it.

    Returns:
        The backup's manifest.

    Raises:
        UserError: the file is missing or not a backup, or a step fails.
    """
    if not file.is_file():
        raise UserError(f"No backup file {file}: make mlflow-backup writes one under .mlflow/backups/.")
    cfg = settings()
    server = ["bash", str(ROOT / "scripts" / "mlflow-server.sh")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with tarfile.open(file) as tar:
            tar.extractall(work, filter="data")
        if not (work / "manifest.json").is_file():
            raise UserError(f"{file} is not a backup made by make mlflow-backup (no manifest.json).")
        manifest = json.loads((work / "manifest.json").read_text())
        _run([*server, "stop-server"], "stopping the MLflow server")
        for db in manifest["databases"]:
            load = ["-v", "ON_ERROR_STOP=1", "-q", "-f", str(work / f"{db}.sql"), f"{cfg['pg']}/{db}"]
            _run([_pg_tool("psql"), *load], f"loading the dump of {db}")
        s3 = _s3(cfg)
        stale = _keys(s3, cfg["bucket"], cfg["prefix"])
        for start in range(0, len(stale), 1000):
            chunk = [{"Key": key} for key in stale[start : start + 1000]]
            s3.delete_objects(Bucket=cfg["bucket"], Delete={"Objects": chunk})
        for key in manifest["objects"]:
            s3.upload_file(str(work / "bucket" / key), cfg["bucket"], key)
    _run([*server, "start"], "starting the MLflow server")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """`backup [--out DIR]` or `restore FILE`; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m mlrepo.server.backup", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    made = sub.add_parser("backup")
    made.add_argument("--out", type=Path, default=ROOT / ".mlflow" / "backups")
    back = sub.add_parser("restore")
    back.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "backup":
            print(f"backup: {backup(args.out)}")
        else:
            manifest = restore(args.file)
            objects = len(manifest["objects"])
            print(f"restore: {args.file} ({objects} artifact objects, made {manifest['created']})")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
