"""An exception from a pipeline's own code: the run ends FAILED with its traceback saved, and the
terminal shows one paragraph (the error's first line, cut short, and where in the user's code)."""

from __future__ import annotations

import pytest
from conftest import runs, train

from mlrepo.run import failure


def test_a_huge_message_is_cut_and_says_where_the_rest_is():
    exc = ValueError("continuous is not supported: " + ", ".join(str(i * 1.5) for i in range(10000)))
    shown = failure.short_message(exc)
    assert shown.startswith("ValueError: continuous is not supported")
    assert len(shown) < failure.MAX_MESSAGE + 100 and "more characters in error/traceback.txt" in shown
    assert failure.short_message(KeyError("price")) == "KeyError: 'price'"
    assert failure.short_message(RuntimeError()) == "RuntimeError"
    two = failure.short_message(ValueError("first line\n" + "x" * 500))
    assert two.startswith("ValueError: first line [") and "xxx" not in two


def test_the_place_is_the_users_frame_and_the_library_frame_it_ended_in(tmp_path):
    (tmp_path / "train" / "demo").mkdir(parents=True)
    user = tmp_path / "train" / "demo" / "step.py"
    user.write_text("def fit(values):\n    import json\n    return json.loads(values)\n")
    namespace: dict = {}
    exec(compile(user.read_text(), str(user), "exec"), namespace)
    with pytest.raises(ValueError) as caught:
        namespace["fit"]("{not json")
    where = failure.where(caught.value.__traceback__, root=tmp_path)
    assert where.startswith("train/demo/step.py:3 in fit()"), where
    assert ", raised in " in where and "json/" in where, where


@pytest.mark.slow
def test_a_value_error_in_a_step_is_one_paragraph_in_the_terminal(repo_copy, tracking_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    step = repo_copy / "train" / "iris" / "steps" / "train.py"
    step.write_text(
        step.read_text().replace(
            '    """Build an IrisClassifier with these hyper-parameters and fit it."""\n',
            '    """Build an IrisClassifier with these hyper-parameters and fit it."""\n'
            '    raise ValueError("labels are continuous: " + " ".join(map(str, range(20000))))\n',
        )
    )
    done = train("pipeline=train_iris", cwd=repo_copy)
    assert done.returncode == 1, done.stderr[-2000:]
    (run,) = runs(tracking_uri, "train_iris")
    assert run.info.status == "FAILED"
    assert "Traceback" not in done.stderr and len(done.stderr) < 3000, done.stderr[-3000:]
    assert (
        f"Run {run.info.run_id} FAILED in pipeline 'train_iris': ValueError: labels are continuous"
        in done.stderr
    )
    assert "at train/iris/steps/train.py:11 in fit()" in done.stderr
    saved = MlflowClient(tracking_uri).download_artifacts(
        run.info.run_id, "error/traceback.txt", str(tmp_path)
    )
    text = open(saved).read()
    assert "Traceback" in text and "19999" in text  # the whole error is kept with the run
