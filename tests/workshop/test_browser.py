"""The workshop in a real browser: JupyterLab, headless Chromium, every notebook of notebooks/.

For each numbered notebook (in order, on the test session's sandbox, as an attendee goes),
JupyterLab opens it, Run -> Run All Cells runs it, and the test waits until the kernel is idle;
then no cell may show an error, every code cell must have run, and the outcome the last cell
records must be shown. A screenshot of the executed notebook and the executed notebook itself
are kept in ``$SOA_LAB_TEST_ARTIFACTS/workshop/browser/`` (a temporary folder otherwise).

JupyterLab serves a temporary copy of notebooks/, so the repository's notebooks are never
saved with outputs. A control notebook that divides by zero proves the error check sees errors.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from notebooks.secrets_scan import assert_no_secret_in_outputs

from soa_sdk import outcomes
from soa_sdk.paths import notebooks_root

from . import browser
from .jupyter_server import RunningLab, jupyterlab

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not browser.CHROMIUM.exists(),
        reason=f"{browser.CHROMIUM} is absent (install it: bash .ci/install-browser.sh)",
    ),
]

NOTEBOOKS = sorted(p.name for p in notebooks_root().glob("[0-9][0-9]_*.ipynb"))
# Seconds one notebook may take in the browser; later steps drive traffic for a while.
NOTEBOOK_TIMEOUT = float(os.environ.get("SOA_LAB_BROWSER_TIMEOUT", "900"))


@pytest.fixture(scope="module")
def artifacts(workshop_artifacts: Path) -> Path:
    folder = workshop_artifacts / "browser"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def jupyter(sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    """JupyterLab serving a copy of notebooks/ (plus the control notebook) on the sandbox."""
    root = tmp_path_factory.mktemp("jupyterlab-root")
    shutil.copytree(
        notebooks_root(), root / "notebooks", ignore=shutil.ignore_patterns("runs", ".ipynb_*")
    )
    control = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("print('before the error')"),
            nbformat.v4.new_code_cell("1 / 0"),
            nbformat.v4.new_code_cell("print('never reached')"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(control, root / "control_error.ipynb")
    with jupyterlab(root, tmp_path_factory.mktemp("jupyterlab-scratch")) as lab:
        yield lab


@pytest.fixture(scope="module")
def page(jupyter: RunningLab):
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("Chromium is here but Python's playwright is not: pip install -e '.[lab]'")
    with browser.chromium_page() as page:
        yield page


def _save_and_read_outcome(page, saved: Path) -> dict:
    """Save the notebook (the temporary copy) and read the outcome its last cell recorded."""
    page.locator(f'{browser.NOTEBOOK} .jp-Toolbar [data-command="docmanager:save"]').click()
    deadline = time.monotonic() + 30
    while True:
        try:
            return outcomes.read(saved)
        except (LookupError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _without_images(saved: Path, target: Path) -> Path:
    """A copy of the notebook without image data: the credential pattern of the secrets scan
    is case-insensitive, and a PNG's base64 matches "akia" + 16 letters now and then."""
    document = json.loads(saved.read_text())
    for cell in document["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in [m for m in data if m.startswith("image/")]:
                del data[mime]
    target.write_text(json.dumps(document))
    return target


def test_the_error_check_sees_a_failing_cell(jupyter, page, artifacts):
    browser.open_notebook(page, jupyter.url("lab/tree/control_error.ipynb", reset=True))
    browser.run_all_cells(page, timeout=60)
    page.screenshot(path=str(artifacts / "control_error.png"))
    errors = browser.cell_errors(page)
    assert [e.cell for e in errors] == [2]
    assert "ZeroDivisionError" in errors[0].text
    # Run All stops at the error: the third cell never ran.
    assert browser.prompts(page)[2] == "[ ]:"
    jupyter.shutdown_kernels()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(name, jupyter, page, sandbox, artifacts, tmp_path):
    started = time.monotonic()
    browser.open_notebook(page, jupyter.url(f"lab/tree/notebooks/{name}", reset=True))
    opened = time.monotonic() - started
    browser.run_all_cells(page, timeout=NOTEBOOK_TIMEOUT)
    ran = time.monotonic() - started - opened

    last_cell = page.locator(browser.CODE_CELL).last
    last_cell.scroll_into_view_if_needed()
    screenshot = artifacts / f"{Path(name).stem}.png"
    page.screenshot(path=str(screenshot))
    print(f"{name}: opened in {opened:.1f} s, ran in {ran:.1f} s; screenshot {screenshot}")

    errors = browser.cell_errors(page)
    assert not errors, f"{name}: code cell {errors[0].cell} shows an error:\n{errors[0].text}"
    prompts = browser.prompts(page)
    assert prompts and all(any(c.isdigit() for c in p) for p in prompts), (
        f"{name}: not every code cell ran: {prompts}"
    )

    saved = jupyter.root / "notebooks" / name
    outcome = _save_and_read_outcome(page, saved)
    assert outcome, f"{name} recorded an empty outcome"
    shown = last_cell.locator(".jp-OutputArea-output").all_inner_texts()
    assert all(any(key in text for text in shown) for key in outcome), (
        f"{name}: the last cell does not show the recorded outcome {sorted(outcome)}"
    )
    assert_no_secret_in_outputs(_without_images(saved, tmp_path / name), sandbox)
    shutil.copy(saved, artifacts / name)
    jupyter.shutdown_kernels()
