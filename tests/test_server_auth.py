"""Client credentials and the read-only rule of the team server, without a server."""

from __future__ import annotations

import pytest

from mlrepo.server import auth, authz

URI = "http://127.0.0.1:5050"
SECRET = "s3cret-for-the-test"  # pragma: allowlist secret


@pytest.fixture(autouse=True)
def no_login(monkeypatch, tmp_path):
    """No credentials from the environment or from the user's real ~/.netrc."""
    monkeypatch.delenv(auth.USER_VAR, raising=False)
    monkeypatch.delenv(auth.PASSWORD_VAR, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))


def test_credentials_come_from_mlflow_variables_first(monkeypatch, tmp_path):
    (tmp_path / "netrc").write_text(f"machine 127.0.0.1 login bob password {SECRET}-netrc\n")
    monkeypatch.setenv(auth.USER_VAR, "alice")
    monkeypatch.setenv(auth.PASSWORD_VAR, SECRET)
    assert auth.credentials(URI) == ("alice", SECRET)
    assert auth.headers(URI)["Authorization"].startswith("Basic ")


def test_credentials_fall_back_to_netrc_for_the_host(tmp_path):
    (tmp_path / "netrc").write_text(f"machine 127.0.0.1 login bob password {SECRET}\n")
    assert auth.credentials(URI) == ("bob", SECRET)
    assert auth.credentials("http://other.example:5050") is None


def test_no_credentials_means_no_authorization_header():
    assert auth.credentials(URI) is None
    assert "Authorization" not in auth.headers(URI)


def test_refusals_name_the_variables_never_the_password(monkeypatch):
    missing = str(auth.refused(URI, 401))
    assert (
        "MLFLOW_TRACKING_USERNAME" in missing
        and "MLFLOW_TRACKING_PASSWORD" in missing
        and "missing" in missing
    )
    monkeypatch.setenv(auth.USER_VAR, "alice")
    monkeypatch.setenv(auth.PASSWORD_VAR, SECRET)
    for status in (401, 403):
        text = str(auth.refused(URI, status))
        assert SECRET not in text and "\n" not in text
    assert "users grant alice" in str(auth.refused(URI, 403))


def test_access_errors_are_recognised_from_mlflow_exceptions():
    from mlflow.exceptions import MlflowException

    denied = MlflowException("API request to endpoint /x failed with error code 403 != 200.")
    assert "403" in str(auth.access_error(URI, denied))
    assert auth.access_error(URI, MlflowException("something else")) is None


def test_unreachable_server_is_a_user_error_after_a_bounded_wait(monkeypatch):
    from scale_support import free_port

    from mlrepo.errors import UserError

    monkeypatch.setenv(auth.WAIT_VAR, "1")
    with pytest.raises(UserError, match="does not answer"):
        auth.request(f"http://127.0.0.1:{free_port()}", "GET", "health")


@pytest.mark.parametrize(
    ("method", "path", "write"),
    [
        ("GET", "/api/2.0/mlflow/experiments/get-by-name", False),
        ("POST", "/api/2.0/mlflow/runs/search", False),
        ("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", False),
        ("POST", "/api/2.0/mlflow/experiments/create", True),
        ("POST", "/api/2.0/mlflow/runs/log-batch", True),
        ("POST", "/api/2.0/mlflow/registered-models/alias", True),
        ("DELETE", "/api/2.0/mlflow/registered-models/alias", True),
        ("PATCH", "/api/2.0/mlflow/registered-models/update", True),
    ],
)
def test_what_a_read_only_user_may_not_do(method, path, write):
    assert authz.is_write(method, path) is write


def test_read_only_users_come_from_the_server_environment(monkeypatch):
    monkeypatch.setenv(authz.READ_ONLY_VAR, "ci, auditor")
    assert authz.read_only_users() == {"ci", "auditor"}
