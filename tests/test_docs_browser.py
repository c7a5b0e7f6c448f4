"""The built docs in a real headless Chromium with no network: diagrams become SVG, formulas typeset."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PYTHON, ROOT
from docs_support import ARTIFACTS, chromium, install_chromium

pytestmark = pytest.mark.slow

RENDER_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs of this tree, built once into a temporary folder."""
    out = tmp_path_factory.mktemp("docs") / "site"
    done = subprocess.run(
        [PYTHON, "-m", "mlrepo.docs", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Headless Chromium (installed by scripts/install-chromium.sh if missing); always quit."""
    install_chromium()
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver, script: str, what: str) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, RENDER_TIMEOUT_S, poll_frequency=0.2).until(lambda d: d.execute_script(script))
    except TimeoutException:
        shot = _screenshot(driver, "failed")
        pytest.fail(f"{what} did not happen within {RENDER_TIMEOUT_S} s; screenshot: {shot}")


def _screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def _loaded_urls(driver) -> list[str]:
    # Chromium keeps no resource timing for file:// loads: read what the page asks for instead.
    return driver.execute_script(
        "return [...document.querySelectorAll('script[src], link[rel=stylesheet], img[src]')]"
        ".map(e => e.src || e.href).filter(u => !u.startsWith('data:'))"
    )


def test_model_page_draws_its_class_diagram_and_typesets_formulas(site: Path, browser):
    browser.get((site / "models" / "IrisClassifier.html").as_uri())
    _wait_for(browser, "return !!document.querySelector('div.mermaid svg')", "The class diagram drawing")
    _wait_for(
        browser, "return document.querySelectorAll('mjx-container svg').length >= 2", "Formula typesetting"
    )

    diagram = browser.execute_script("return document.querySelector('div.mermaid svg').textContent")
    assert "IrisClassifier" in diagram and "build()" in diagram
    assert "classDiagram" not in browser.execute_script(
        "return document.querySelector('div.mermaid').innerText"
    )
    # The display formula (softmax) is typeset as a block, not left as $$...$$ text.
    assert browser.execute_script("return !!document.querySelector('mjx-container[display=\"true\"] svg')")
    assert "$$" not in browser.execute_script("return document.querySelector('main.pdoc').innerText")
    urls = _loaded_urls(browser)
    assert urls and all(url.startswith("file://") for url in urls), urls
    print(f"model page: {_screenshot(browser, 'IrisClassifier')}")


def test_landing_page_draws_the_config_tree(site: Path, browser):
    browser.get((site / "index.html").as_uri())
    _wait_for(browser, "return !!document.querySelector('div.mermaid svg')", "The config tree drawing")
    tree = browser.execute_script("return document.querySelector('div.mermaid svg').textContent")
    assert "conf/config.yaml" in tree and "train_iris" in tree and "production" in tree
    _wait_for(browser, "return !!document.querySelector('mjx-container svg')", "Formula typesetting")
    assert all(url.startswith("file://") for url in _loaded_urls(browser))
    print(f"landing page: {_screenshot(browser, 'index')}")
