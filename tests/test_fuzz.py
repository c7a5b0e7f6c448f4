"""`make fuzz`: Schemathesis against a real `bentoml serve` of each Iris version, from the
service's own OpenAPI document (bounded examples), its failure paths, and the project's check."""

import json
import subprocess
from types import SimpleNamespace

import pytest
from conftest import PYTHON, ROOT
from deploy_support import trained_deploy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A trained Iris run imported into a throwaway BentoML home (for V1 and V2)."""
    return trained_deploy(tmp_path_factory)


def _fuzz(env, *args, make=False, timeout=300):
    if make:  # the make target, as a user runs it (the venv is already synced)
        command = ["make", "-o", ".venv/.synced", "fuzz", *args]
    else:
        command = [PYTHON, "-m", "mlrepo", "fuzz", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _summary(done):
    lines = [line for line in done.stdout.splitlines() if line.startswith("fuzz ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    return lines[-1]


def test_make_fuzz_passes_on_v1(env):
    done = _fuzz(env, "MODEL=IrisClassifier/V1", make=True)
    summary = _summary(done)
    assert done.returncode == 0, done.stdout[-5000:]
    assert " 0 failures" in summary and "on 5 operations" in summary
    assert int(summary.split(": ")[1].split()[0]) >= 100  # cases tried
    assert "slowest response" in summary and "POST /predict" in done.stdout


def test_fuzz_passes_on_v2(env):
    done = _fuzz(env, "--model", "IrisClassifier/V2", "--examples", "20")
    assert done.returncode == 0, done.stdout[-5000:]
    assert " 0 failures" in _summary(done)


def test_a_response_over_the_bound_fails_the_run_with_exit_1(env):
    done = _fuzz(env, "--model", "IrisClassifier/V1", "--examples", "3", "--max-response-ms", "0.001")
    summary = _summary(done)
    assert done.returncode == 1, done.stdout[-3000:]
    assert " 0 failures" not in summary and "FAIL " in done.stdout and "max_response_time" in done.stdout


def test_a_deploy_without_its_model_says_what_to_run(tmp_path):
    env = {"BENTOML_HOME": str(tmp_path / "empty"), "PATH": "/usr/bin:/bin"}
    done = _fuzz(env, "--model", "IrisClassifier/V2", timeout=120)
    assert done.returncode == 2, done.stderr
    assert "make bento-model MODEL=IrisClassifier/V2" in done.stderr and "Traceback" not in done.stderr
    done = _fuzz(env, "--model", "Nothing/V1", timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def _response(status, body):
    return SimpleNamespace(
        status_code=status, content=body if isinstance(body, bytes) else json.dumps(body).encode()
    )


def test_the_error_body_check_wants_json_with_an_error_on_every_4xx():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_hooks", ROOT / "mlrepo" / "ship" / "fuzz_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    assert hooks.error_body(None, _response(400, {"error": "record 0: missing column"}), None) is True
    assert hooks.error_body(None, _response(200, b"anything"), None) is None
    for bad in (b"Method Not Allowed", {"detail": "x"}, {"error": ""}, [1]):
        with pytest.raises(AssertionError, match="without a JSON"):
            hooks.error_body(None, _response(405, bad), None)
