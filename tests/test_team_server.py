"""The team's tracking server (issue 14): authentication, permissions, S3 artifacts, promotion,
lineage, faults and backups, against the real stack started by scripts/mlflow-server.sh
(PostgreSQL, a loopback S3 API, `mlflow server --app-name basic-auth`) on non-default ports.

Every command's output and every log is collected and grepped for the passwords at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path

import pytest
from conftest import ROOT, copy_repo, train
from scale_support import free_port, is_root, script

PYTHON = sys.executable
#: The loopback S3 API takes any key pair: the dummies scripts/mlflow-server.sh gives it.
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "mlrepo-local",
    "AWS_SECRET_ACCESS_KEY": "mlrepo-local",  # pragma: allowlist secret
    "AWS_DEFAULT_REGION": "us-east-1",
}
WRONG, ALICE, BOB = "wrong-password", "alice-password-1", "bob-password-12"  # pragma: allowlist secret
ADMIN_PASSWORD = "team-admin-" + uuid.uuid4().hex[:12]  # pragma: allowlist secret (random, test-only)


class Stack:
    """The started stack: its URL, settings, passwords and everything its commands printed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.url = f"http://127.0.0.1:{env['MLREPO_SERVER_PORT']}"
        self.s3 = f"http://127.0.0.1:{env['MLREPO_S3_PORT']}"
        self.dir = Path(env["MLREPO_SERVER_DIR"])
        self.outputs: list[str] = []

    def password(self, user: str) -> str:
        """The password of `admin` or `ci`, from the server's 0600 files."""
        return (self.dir / f"{user}.password").read_text().strip()

    def login(self, user: str = "admin") -> dict[str, str]:
        """The client environment of `user`: the server's URL and MLflow's credential variables."""
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": user,
            "MLFLOW_TRACKING_PASSWORD": self.password(user),
        }

    def keep(self, done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
        """Remember a command's output (for the password grep) and return it."""
        self.outputs.append(done.stdout + done.stderr)
        return done

    def script(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run scripts/mlflow-server.sh ARGS with the stack's settings."""
        return self.keep(script("mlflow-server.sh", *args, env=self.env, timeout=timeout))

    def mlrepo(self, *args: str, env: dict | None = None, stdin: str | None = None):
        """Run `python -m mlrepo ARGS` against the server."""
        done = subprocess.run(
            [PYTHON, "-m", "mlrepo", *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": self.url, **(env or {})}, timeout=300,
        )  # fmt: skip
        return self.keep(done)

    def python(self, *args: str, env: dict | None = None, timeout: float = 600):
        """Run `python ARGS` in the repository with the stack's settings and the admin's login."""
        env = {**os.environ, **self.env, **self.login(), **(env or {})}
        return self.keep(subprocess.run([PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                                        timeout=timeout))  # fmt: skip

    def train(self, *args: str, cwd: Path, env: dict | None = None):
        """Run `python -m train ARGS` against the server."""
        return self.keep(train(*args, cwd=cwd, env={"MLFLOW_TRACKING_URI": self.url, **(env or {})}))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Start PostgreSQL, the S3 API and the authenticated server on free loopback ports; stop them."""
    if not is_root():
        pytest.skip("scripts/postgres.sh installs and runs Debian's postgresql: it needs root")
    env = {
        "MLREPO_SERVER_PORT": str(free_port()),
        "MLREPO_SERVER_DIR": str(tmp_path_factory.mktemp("server")),
        "MLREPO_PG_PORT": str(free_port()),
        "MLREPO_S3_PORT": str(free_port()),
        "MLREPO_PG_DIR": f"/var/tmp/mlrepo-pg-team-{uuid.uuid4().hex[:8]}",
        "MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    found = Stack(env)
    try:
        started = found.script("start")
        assert started.returncode == 0, started.stdout + started.stderr
        yield found
    finally:
        found.script("stop")
        shutil.rmtree(env["MLREPO_PG_DIR"], ignore_errors=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A clean git copy of the repository (production refuses a dirty tree)."""
    return copy_repo(tmp_path_factory.mktemp("team") / "repo")


def api(stack: Stack, endpoint: str) -> str:
    """The URL of an MLflow REST endpoint of the stack's server."""
    return f"{stack.url}/api/2.0/mlflow/{endpoint}"


def http(url: str, body: dict | None = None, user: tuple[str, str] | None = None) -> int:
    """POST `body` (GET without one) to `url`, optionally with basic auth; return the status."""
    return call(url, body, user)[0]


def call(url: str, body: dict | None = None, user: tuple[str, str] | None = None) -> tuple[int, dict]:
    """POST `body` (GET without one) to `url`, optionally with basic auth; return status and JSON."""
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers["Authorization"] = "Basic " + b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as r:
            text = r.read()
            return r.status, json.loads(text) if text.startswith(b"{") else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {}


pytestmark = pytest.mark.slow


# --- authentication and permissions ------------------------------------------------------


def test_the_secrets_are_files_only_root_reads(stack):
    for name in ("admin.password", "ci.password", "flask.secret", "basic_auth.ini"):
        assert (stack.dir / name).stat().st_mode & 0o777 == 0o600, name
    assert stack.password("admin") == ADMIN_PASSWORD
    assert ADMIN_PASSWORD not in (stack.dir / "basic_auth.ini").read_text()
    shown = stack.script("credentials")
    assert f"MLFLOW_TRACKING_PASSWORD={ADMIN_PASSWORD}" in shown.stdout  # only when asked
    stack.outputs.pop()  # the one output allowed to hold it


def test_anonymous_and_wrong_logins_are_refused(stack):
    create = api(stack, "experiments/create")
    assert http(create, {"name": "anon"}) == 401
    assert http(create, {"name": "anon"}, ("admin", "not-the-password")) == 401
    assert http(f"{stack.url}/health") == 200
    assert http(api(stack, "experiments/search"), {"max_results": 1}, ("admin", ADMIN_PASSWORD)) == 200


def test_the_ci_user_reads_but_cannot_write(stack):
    ci = ("ci", stack.password("ci"))
    assert http(api(stack, "experiments/search"), {"max_results": 5}, ci) == 200
    assert http(api(stack, "experiments/create"), {"name": "by-ci"}, ci) == 403
    assert http(api(stack, "registered-models/create"), {"name": "ByCi"}, ci) == 403


@pytest.mark.parametrize("login", ["none", "wrong"])
def test_a_production_run_without_a_valid_login_exits_2_in_one_line(stack, repo, login):
    env = {"MLFLOW_TRACKING_USERNAME": "", "MLFLOW_TRACKING_PASSWORD": "", "NETRC": "/nonexistent"}
    if login == "wrong":
        env.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD=WRONG)
    for mode in ("cached", "force"):
        done = stack.train("pipeline=train_iris", "branch=production", f"mode={mode}", cwd=repo, env=env)
        assert done.returncode == 2, done.stderr[-2000:]
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "MLFLOW_TRACKING_USERNAME" in lines[0] and "MLFLOW_TRACKING_PASSWORD" in lines[0]
    from mlflow.tracking import MlflowClient

    os.environ.update(stack.login())  # read back as the admin: no run, not even a FAILED one
    try:
        exp = MlflowClient(stack.url).get_experiment_by_name("train_iris")
        assert exp is None or not MlflowClient(stack.url).search_runs([exp.experiment_id])
    finally:
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(key)


def test_a_read_only_login_makes_no_run(stack, repo):
    done = stack.train(
        "pipeline=train_iris", "branch=production", "mode=force", cwd=repo, env=stack.login("ci")
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "403" in done.stderr and "users grant ci" in done.stderr


def test_users_are_added_and_granted_through_the_api(stack, repo, tmp_path):
    admin = {k: v for k, v in stack.login().items() if k != "MLFLOW_TRACKING_URI"}
    added = stack.mlrepo("users", "add", "alice", env=admin, stdin="alice-password-1\n")
    assert added.returncode == 0, added.stderr
    again = stack.mlrepo("users", "add", "alice", env=admin, stdin="alice-password-1\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    alice = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": ALICE}
    refused = stack.mlrepo("users", "add", "mallory", env=alice, stdin="mallory-password\n")
    assert refused.returncode == 2 and "403" in refused.stderr and "Traceback" not in refused.stderr
    # alice creates an experiment (she manages it); bob reads it, and writes once granted EDIT.
    stack.mlrepo("users", "add", "bob", env=admin, stdin="bob-password-12\n")
    bob = ("bob", "bob-password-12")
    status, made = call(
        api(stack, "experiments/create"), {"name": "alice-exp"}, ("alice", "alice-password-1")
    )
    assert status == 200
    exp_id = made["experiment_id"]
    run = {"experiment_id": exp_id}
    assert http(api(stack, "runs/create"), run, bob) == 403
    granted = stack.mlrepo("users", "grant", "bob", "alice-exp", "EDIT", env=admin)
    assert granted.returncode == 0, granted.stderr
    assert http(api(stack, "runs/create"), run, bob) == 200
    missing = stack.mlrepo("users", "grant", "bob", "no-such-exp", "EDIT", env=admin)
    assert missing.returncode == 2 and "no experiment 'no-such-exp'" in missing.stderr


# --- artifacts in S3 ------------------------------------------------------------------------


def bucket_keys(stack: Stack) -> list[str]:
    """The object keys in the artifact bucket (moto accepts any key pair)."""
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=stack.s3, region_name="us-east-1",
        aws_access_key_id="mlrepo-local", aws_secret_access_key="mlrepo-local",
    )  # fmt: skip
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="mlrepo-artifacts")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="module")
def production_run(stack, repo):
    """A production Iris run logged as the admin: its run id."""
    done = stack.train("pipeline=train_iris", "branch=production", cwd=repo, env=stack.login())
    assert done.returncode == 0, done.stderr[-3000:]
    from mlflow.tracking import MlflowClient

    with pytest.MonkeyPatch.context() as patch:
        for key, value in stack.login().items():
            patch.setenv(key, value)
        exp = MlflowClient(stack.url).get_experiment_by_name("train_iris")
        (run,) = MlflowClient(stack.url).search_runs([exp.experiment_id], "attributes.status = 'FINISHED'")
    return run.info.run_id


def test_a_production_model_lives_in_s3_and_loads_back_through_the_server(stack, production_run, tmp_path):
    keys = [k for k in bucket_keys(stack) if production_run in k or "/models/" in k]
    assert any(k.endswith("MLmodel") for k in keys), keys
    # The client has no AWS variables: it reads the artifacts through the server.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_S3"))}
    code = (
        "import mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/IrisClassifier/1')\n"
        "cols = m.metadata.get_input_schema().input_names()\n"
        "print('predicted', m.predict(pd.DataFrame([[5.1, 3.5, 1.4, 0.2]], columns=cols))[0])"
    )
    done = stack.keep(
        subprocess.run([PYTHON, "-c", code], env={**env, **stack.login()}, capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    )  # fmt: skip
    assert done.returncode == 0 and "predicted" in done.stdout, done.stderr[-3000:]


# --- data beside it: the DVC remote in the same object store --------------------------------


def test_dvc_pushes_and_pulls_tables_through_the_s3_remote(stack, tmp_path):
    import pandas as pd

    repo = tmp_path / "dvc-repo"
    repo.mkdir()
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", **MOTO_ENV}

    def dvc(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([PYTHON, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, f"dvc {' '.join(args)}: {done.stdout}{done.stderr}"
        return stack.keep(done)

    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc("init", "-q")
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")  # the committed remotes
    dvc("remote", "modify", "--local", "s3", "endpointurl", stack.s3)  # this test's port
    table = repo / "data" / "iris_dataset_v1.parquet"
    table.parent.mkdir()
    pd.DataFrame({"x": range(100), "y": [i % 3 for i in range(100)]}).to_parquet(table)
    written = table.read_bytes()
    dvc("add", "data/iris_dataset_v1.parquet")
    dvc("push", "-r", "s3")
    table.unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    dvc("pull", "-r", "s3")
    assert table.read_bytes() == written


# --- the champion, by alias ------------------------------------------------------------------


def test_promote_checks_the_run_and_the_metric(stack, repo, production_run):
    from mlflow.tracking import MlflowClient

    admin = {k: v for k, v in stack.login().items() if k != "MLFLOW_TRACKING_URI"}
    first = stack.mlrepo("promote", production_run, "--alias", "champion", env=admin)
    assert first.returncode == 0, first.stderr
    assert "IrisClassifier@champion -> version 1" in first.stdout
    # A worse production run (heavily regularized) is refused, then forced with a reason.
    worse = stack.train(
        "pipeline=train_iris", "branch=production", "model.C=0.0001", cwd=repo, env=stack.login()
    )
    assert worse.returncode == 0, worse.stderr[-3000:]
    worse_id = worse.stdout.split("Run ", 1)[1].split()[0]
    refused = stack.mlrepo("promote", worse_id, env=admin)
    assert refused.returncode == 2 and "is worse than champion" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    no_reason = stack.mlrepo("promote", worse_id, "--force", env=admin)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    ci = {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": stack.password("ci")}
    denied = stack.mlrepo("promote", worse_id, "--force", "--reason", "canary", env=ci)
    assert denied.returncode == 2 and "403" in denied.stderr and "Traceback" not in denied.stderr
    forced = stack.mlrepo("promote", worse_id, "--force", "--reason", "canary test", env=admin)
    assert forced.returncode == 0 and "(forced)" in forced.stdout, forced.stderr
    with pytest.MonkeyPatch.context() as patch:
        for key, value in stack.login().items():
            patch.setenv(key, value)
        client = MlflowClient(stack.url)
        held = client.get_model_version_by_alias("IrisClassifier", "champion")
        assert held.run_id == worse_id
        assert held.tags["promotion.by"] == "admin" and held.tags["promotion.reason"] == "canary test"
        assert held.tags["promotion.forced"] == "true" and held.tags["promotion.replaced"] == "1"
        # Back to the better run for what follows (trace, backup).
        back = stack.mlrepo("promote", production_run, env=admin)
        assert back.returncode == 0, back.stderr
    missing = stack.mlrepo("promote", "0" * 32, env=admin)
    assert missing.returncode == 2 and "no run" in missing.stderr


# --- lineage --------------------------------------------------------------------------------


def test_trace_the_champion_through_the_server(stack, production_run, tmp_path):
    admin = {k: v for k, v in stack.login().items() if k != "MLFLOW_TRACKING_URI"}
    done = stack.mlrepo(
        "trace", "IrisClassifier@champion", "--json", env={**admin, "BENTOML_HOME": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["run"]["run_id"] == production_run and found["run"]["branch"] == "production"
    assert {"name": "IrisClassifier", "version": "1", "aliases": ["champion"]} in found["made_from_run"][
        "model_versions"
    ]
    # Iris is read from scikit-learn, not from a DVC table: trace says so instead of skipping it.
    assert any("no dataset table" in line for line in found["broken"])


# --- the registry's audit trail ------------------------------------------------------------


def test_every_promotion_is_in_the_history_with_who_why_and_checks(stack, production_run):
    admin = {k: v for k, v in stack.login().items() if k != "MLFLOW_TRACKING_URI"}
    done = stack.mlrepo("promote", "--history", "IrisClassifier", "--json", env=admin)
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)
    first, forced = entries[0], next(e for e in entries if e["forced"])
    assert (first["from"], first["to"], first["run_id"]) == (None, "1", production_run)
    assert first["run_uid"] and first["who"] == "admin" and first["when"].endswith("Z")
    assert "status FINISHED" in first["checks"] and "branch production" in first["checks"]
    assert (forced["from"], forced["to"], forced["reason"]) == ("1", "2", "canary test")
    assert any("worse, forced with a reason" in check for check in forced["checks"])
    assert entries[-1]["to"] == "1" and all(e["kind"] == "promote" for e in entries)
    ci = {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": stack.password("ci")}
    text = stack.mlrepo("promote", "--history", "IrisClassifier", env=ci)  # a read-only login reads it
    assert text.returncode == 0 and "IrisClassifier@champion 1 -> 2  by admin FORCED" in text.stdout, (
        text.stderr
    )
    assert "reason: canary test" in text.stdout and "UNAUDITED" not in text.stdout
    missing = stack.mlrepo("promote", "--history", "NoSuchModel", env=admin)
    assert (
        missing.returncode == 2
        and "no registered model" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_a_move_outside_promote_is_unaudited_and_trace_at_says_so(stack, production_run, tmp_path):
    admin = {k: v for k, v in stack.login().items() if k != "MLFLOW_TRACKING_URI"}
    admin["BENTOML_HOME"] = str(tmp_path)
    entries = json.loads(stack.mlrepo("promote", "--history", "IrisClassifier", "--json", env=admin).stdout)
    with pytest.MonkeyPatch.context() as patch:  # straight through MLflow's API, no promote
        _client_as_admin(stack, patch).set_registered_model_alias("IrisClassifier", "champion", "2")
    ci = {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": stack.password("ci")}
    seen = stack.mlrepo("promote", "--history", "IrisClassifier", env=ci)
    assert "IrisClassifier@champion 1 -> 2  UNAUDITED" in seen.stdout and "not stored" in seen.stdout
    kept = stack.mlrepo("promote", "--history", "IrisClassifier", "--json", env=admin)
    unaudited = json.loads(kept.stdout)[-1]
    assert unaudited["kind"] == "unaudited" and (unaudited["from"], unaudited["to"]) == ("1", "2")
    now = stack.mlrepo("trace", "IrisClassifier@champion", "--at", unaudited["when"], env=admin)
    assert now.returncode == 0, now.stderr
    assert "-> version 2" in now.stdout and "UNAUDITED" in now.stdout and "set outside promote" in now.stdout
    then = stack.mlrepo("trace", "IrisClassifier@champion", "--at", entries[0]["when"], "--json", env=admin)
    assert then.returncode == 0, then.stderr
    found = json.loads(then.stdout)
    assert found["at"]["entry"]["to"] == "1" and found["run"]["run_id"] == production_run
    assert found["run"]["run_uid"] == entries[0]["run_uid"] and "datasets" in found["run"]
    before = stack.mlrepo("trace", "IrisClassifier@champion", "--at", "2000-01-01", env=admin)
    assert before.returncode == 2 and "pointed at no version" in before.stderr
    back = stack.mlrepo("promote", production_run, env=admin)  # champion is version 1 again
    assert back.returncode == 0, back.stderr


def test_the_history_of_1000_promotions_lists_in_well_under_a_second(stack):
    done = stack.python(str(ROOT / "bench" / "audit_history.py"), "--uri", stack.url, "--promotions", "1000")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    listing = float(done.stdout.split("audit.history, 1000 entries: ")[1].split()[0])
    assert listing < 1.0, done.stdout


# --- faults and load ------------------------------------------------------------------------


def _client_as_admin(stack: Stack, patch: pytest.MonkeyPatch):
    from mlflow.tracking import MlflowClient

    for key, value in stack.login().items():
        patch.setenv(key, value)
    return MlflowClient(stack.url)


def test_a_server_restart_mid_sweep_leaves_no_run_running(stack, repo, tmp_path):
    import time

    values = ",".join(f"0.{n}" for n in range(11, 19))  # 8 jobs
    env = {**os.environ, **stack.login(), "MLREPO_SERVER_WAIT_S": "120"}
    args = ["-m", "train", "-m", "pipeline=train_iris", "branch=production", f"model.C={values}",
            "launcher=local", f"paths.outputs={tmp_path / 'outputs'}"]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        client = _client_as_admin(stack, patch)
        exp_id = client.get_experiment_by_name("train_iris").experiment_id
        before = {r.info.run_id for r in client.search_runs([exp_id], max_results=1000)}
        sweep = subprocess.Popen([PYTHON, *args], cwd=repo, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:  # the restart comes once jobs are logging
                jobs = [
                    r for r in client.search_runs([exp_id], max_results=1000) if r.info.run_id not in before
                ]
                if any(r.data.tags.get("mlflow.parentRunId") for r in jobs):
                    break
                time.sleep(1)
            stopped = stack.script("stop-server")
            assert stopped.returncode == 0, stopped.stderr
            time.sleep(3)
            started = stack.script("start")
            assert started.returncode == 0, started.stderr
            output, _ = sweep.communicate(timeout=600)
        finally:
            if sweep.poll() is None:
                sweep.kill()
        stack.outputs.append(output)
        runs = [r for r in client.search_runs([exp_id], max_results=1000) if r.info.run_id not in before]
    jobs = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(jobs) == 8, output[-3000:]
    assert not [r for r in runs if r.info.status == "RUNNING"], output[-3000:]
    for run in jobs:
        if run.info.status == "FINISHED":
            assert {"accuracy", "f1_macro"} <= set(run.data.metrics), run.info.run_id
        else:
            assert run.info.status == "FAILED" and run.data.tags.get("mlrepo.error"), run.info.run_id
    assert sum(r.info.status == "FINISHED" for r in jobs) >= 1


def test_8_writers_x_25_runs_lose_nothing(stack):
    done = stack.python(
        str(ROOT / "bench" / "server_load.py"), "--uri", stack.url, "--writers", "8", "--runs", "25"
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "lost 0, errors 0" in done.stdout


def test_the_listing_pages_in_parallel_and_matches_page_by_page(stack, monkeypatch):
    from mlrepo.track import runs

    for key, value in stack.login().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(runs, "PAGE", 30)  # 200 runs from the load test: several pages
    reader = runs.RestReader(stack.url)
    monkeypatch.setattr(runs, "PARALLEL_PAGES", 1)
    one_by_one = [r.run_id for r in reader.search(["server_load"], limit=170)]
    monkeypatch.setattr(runs, "PARALLEL_PAGES", 4)
    parallel = [r.run_id for r in reader.search(["server_load"], limit=170)]
    assert len(set(parallel)) == 170 and parallel == one_by_one
    assert len(reader.search(["server_load"], limit=1000)) == 200


def _state(stack: Stack) -> dict:
    """What a restore must give back: runs with metrics and tags, models, aliases, artifact keys."""
    with pytest.MonkeyPatch.context() as patch:
        client = _client_as_admin(stack, patch)
        ids = [e.experiment_id for e in client.search_experiments()]
        runs = {r.info.run_id: (r.info.status, r.data.metrics, r.data.params, r.data.tags)
                for r in client.search_runs(ids, max_results=5000)}  # fmt: skip
        models = {
            m.name: sorted((v.version, v.run_id) for v in client.search_model_versions(f"name = '{m.name}'"))
            for m in client.search_registered_models()
        }
        champion = client.get_model_version_by_alias("IrisClassifier", "champion").version
        from mlrepo.server import audit

        trail = audit.stored(client, "IrisClassifier")[0]  # the registry's audit trail
    return {"runs": runs, "models": models, "champion": champion, "objects": sorted(bucket_keys(stack)),
            "audit": trail}  # fmt: skip


def test_backup_then_restore_into_a_fresh_server_gives_everything_back(stack, tmp_path):
    before = _state(stack)
    assert before["objects"] and before["runs"]
    made = stack.python("-m", "mlrepo.server.backup", "backup", "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    (file,) = tmp_path.glob("mlflow-*.tar.gz")
    assert file.stat().st_mode & 0o777 == 0o600
    # A fresh stack: a new PostgreSQL cluster and an empty bucket (moto keeps objects in memory).
    assert stack.script("stop").returncode == 0
    shutil.rmtree(stack.env["MLREPO_PG_DIR"])
    started = stack.script("start")
    assert started.returncode == 0, started.stderr
    assert bucket_keys(stack) == []
    restored = stack.python("-m", "mlrepo.server.backup", "restore", str(file))
    assert restored.returncode == 0, restored.stderr
    assert _state(stack) == before
    assert len(before["audit"]) >= 5 and any(e["kind"] == "unaudited" for e in before["audit"])
    missing = stack.python("-m", "mlrepo.server.backup", "restore", str(tmp_path / "nope.tar.gz"))
    assert missing.returncode == 2 and "No backup file" in missing.stderr


# --- last: no output or log holds a password ----------------------------------------------


def test_no_command_output_or_log_holds_a_password(stack):
    secrets = [ADMIN_PASSWORD, stack.password("ci"), "alice-password-1", "bob-password-12"]
    logs = [p.read_text(errors="replace") for p in stack.dir.glob("*.log")]
    assert len(stack.outputs) > 5 and logs
    for text in stack.outputs + logs:
        for secret in secrets:
            assert secret not in text
