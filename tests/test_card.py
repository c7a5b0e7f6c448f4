"""Every run's card.html: one self-contained page, rendered offline in headless Chromium.

The cards of a training run, a study and a sweep's parent come from real runs in a copy of the
repository; `python -m mlrepo card` writes one for a run logged without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PYTHON, copy_repo, runs, train
from docs_support import ARTIFACTS, chromium, install_chromium

from mlrepo.track import card

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A copy of the repository and a store holding a training run, a study of it and a sweep."""
    base = tmp_path_factory.mktemp("cards")
    repo = copy_repo(base / "repo")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    (base / "store").mkdir()
    env = {"MLFLOW_TRACKING_URI": uri}
    for args in (["pipeline=train_iris"], ["pipeline=estudy_iris"],
                 ["-m", "pipeline=train_iris", "model.C=0.05,0.3,3"]):  # fmt: skip
        done = train(*args, cwd=repo, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return {"uri": uri, "repo": str(repo), "base": str(base)}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Headless Chromium with no network (installed by scripts/install-chromium.sh if missing)."""
    install_chromium()
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def _card_of(uri: str, run_id: str, dest: Path) -> Path:
    """The card the run logged, copied out of the store."""
    from mlflow.tracking import MlflowClient

    return Path(MlflowClient(uri).download_artifacts(run_id, card.ARTIFACT, str(dest)))


def _open(browser, path: Path, name: str) -> dict:
    """Open a card and report what it loaded: images (loaded or not) and any outside URL."""
    browser.get(path.as_uri())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"card-{name}.png"))
    return browser.execute_script(
        "const imgs = [...document.images];"
        "return {images: imgs.length,"
        " broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),"
        " outside: [...document.querySelectorAll('[src], link[href], script[src]')]"
        "   .map(e => e.getAttribute('src') || e.getAttribute('href'))"
        "   .filter(u => u && !u.startsWith('data:')),"
        " resources: performance.getEntriesByType('resource').map(e => e.name),"
        " headings: [...document.querySelectorAll('h2')].map(h => h.textContent.trim())};"
    )


def _assert_self_contained(page: dict, path: Path) -> None:
    assert page["images"] >= 1 and page["broken"] == [], page
    assert page["outside"] == [] and page["resources"] == [], page
    text = path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the card refers to the network"


def test_a_training_runs_card(store, browser, tmp_path):
    (run,) = [
        r
        for r in runs(store["uri"], "train_iris")
        if "run.uid" in r.data.tags and "sweep.id" not in r.data.tags
    ]
    path = _card_of(store["uri"], run.info.run_id, tmp_path)
    page = _open(browser, path, "train")
    _assert_self_contained(page, path)
    assert {"Run", "Metrics", "Model", "Figures"} <= set(page["headings"])
    text = path.read_text()
    assert "python -m train pipeline=train_iris" in text
    assert run.data.tags["run.uid"] in text and run.data.tags["git.commit"][:12] in text
    assert "sepal_length: double" in text  # the model's signature


def test_a_studys_card_shows_its_report(store, browser, tmp_path):
    (study,) = runs(store["uri"], "estudy_iris")
    path = _card_of(store["uri"], study.info.run_id, tmp_path)
    page = _open(browser, path, "study")
    _assert_self_contained(page, path)
    assert page["images"] >= 3  # importance, pairwise features, confusion matrix
    assert "Report" in page["headings"]
    frame = browser.find_element("css selector", "iframe.report")
    browser.switch_to.frame(frame)
    try:
        assert "Permutation importance" in browser.find_element("tag name", "body").text
    finally:
        browser.switch_to.default_content()
    assert study.data.tags["study.of"] in path.read_text()


def test_a_sweep_parents_card_compares_its_children(store, browser, tmp_path):
    (parent,) = [r for r in runs(store["uri"], "train_iris") if "sweep.id" in r.data.tags
                 and "run.uid" not in r.data.tags]  # fmt: skip
    path = _card_of(store["uri"], parent.info.run_id, tmp_path)
    page = _open(browser, path, "sweep")
    _assert_self_contained(page, path)
    assert "Sweep: 3 jobs" in page["headings"]
    table = browser.find_element("css selector", "table#sweep")
    header = [th.text for th in table.find_elements("css selector", "th")]
    assert header[2] == "model.C" and header[-1] == "accuracy"

    def column(i: int) -> list[str]:
        return [
            row.find_elements("tag name", "td")[i].text
            for row in table.find_elements("css selector", "tbody tr")
        ]

    table.find_elements("css selector", "th")[2].click()
    assert column(2) == ["0.05", "0.3", "3"]
    table.find_elements("css selector", "th")[2].click()
    assert column(2) == ["3", "0.3", "0.05"]
    assert "accuracy against model.C" in path.read_text()


def test_the_card_command_writes_a_card_for_a_run_logged_without_one(tmp_path, tracking_uri):
    import subprocess

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.set_experiment("train_old")
        with mlflow.start_run() as old:
            for step in range(1, 6):
                mlflow.log_metrics({"loss": 1 / step, "accuracy": 1 - 1 / (step + 1)}, step=step)
            figure, ax = plt.subplots()
            ax.plot([1, 2], [3, 4])
            mlflow.log_figure(figure, "plots/line.png")
    finally:
        mlflow.set_tracking_uri(None)
    out = tmp_path / "cards" / "old.html"
    command = [PYTHON, "-m", "mlrepo", "card", old.info.run_id, "--out", str(out), "--uri", tracking_uri]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert 'alt="metric curves"' in text and 'alt="plots/line.png"' in text
    assert text.count("data:image/png;base64,") == 2

    missing = subprocess.run([PYTHON, "-m", "mlrepo", "card", "0" * 32, "--uri", tracking_uri],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 2 and "No run 000" in missing.stderr and "Traceback" not in missing.stderr


def test_a_markdown_report_is_escaped_and_converted():
    page = card.report_html(
        "# Title\n\nSome **bold** <script>x</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "t"
    )
    assert "<h1>Title</h1>" in page and "<strong>bold</strong>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<td>1</td><td>2</td>" in page
    assert card.report_html("<html><body>kept</body></html>", "t") == "<html><body>kept</body></html>"
