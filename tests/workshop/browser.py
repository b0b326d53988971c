"""Drive JupyterLab in Debian's Chromium with Playwright, as an attendee would.

Playwright's Python package talks to the browser through its own bundled driver; pointed at
``/usr/bin/chromium`` with ``executable_path`` it needs no ``playwright install`` (no
browser download). The selectors below are JupyterLab 4's own CSS classes and attributes.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")

# Flags for this machine: no GPU, no sandbox (root), nothing that reaches the internet.
# Playwright adds --headless itself; --user-data-dir is the persistent context's folder.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CODE_CELL = f"{NOTEBOOK} .jp-CodeCell"
PROMPT = ".jp-InputArea-prompt"
# JupyterLab renders an error output and a stderr stream alike, with this MIME type and no
# class of their own; an error's text is its traceback (a SyntaxError's has no "Traceback"
# line, only the exception's name at the start of a line). Warnings are stderr too, and pass.
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)?(Error|Exception|Interrupt|Exit)\b", re.MULTILINE)


@dataclass(frozen=True)
class CellError:
    """An error shown under a code cell (1-based position among code cells)."""

    cell: int
    text: str


@contextmanager
def chromium_page(width: int = 1400, height: int = 1600) -> Iterator[object]:
    """A fresh page in a headless Chromium with a fresh profile; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="soa-lab-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def open_notebook(page, url: str, timeout_ms: float = 90_000) -> None:
    """Load JupyterLab at a notebook's URL and wait until its kernel is idle."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout_ms)
    wait_until_idle(page, timeout_ms / 1000)


def kernel_status(page) -> str:
    """The notebook toolbar's execution indicator: idle, busy, starting, ... ('' if none)."""
    indicator = page.locator(f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator").first
    if not indicator.count():
        return ""
    return indicator.get_attribute("data-status") or ""


def prompts(page) -> list[str]:
    """The text of every code cell's prompt, e.g. ``[3]:``, ``[*]:`` or ``[ ]:``."""
    return [text.strip() for text in page.locator(f"{CODE_CELL} {PROMPT}").all_inner_texts()]


def wait_until_idle(page, timeout: float) -> None:
    """Wait for the kernel to be idle and no cell to be queued or running (``[*]``)."""
    deadline = time.monotonic() + timeout
    steady = 0
    while time.monotonic() < deadline:
        idle = kernel_status(page) == "idle" and not any("*" in p for p in prompts(page))
        steady = steady + 1 if idle else 0
        if steady >= 3:  # idle on three looks in a row: not a gap between two cells
            return
        page.wait_for_timeout(500)
    raise TimeoutError(
        f"the notebook was not idle after {timeout:.0f} s (kernel {kernel_status(page)!r}, "
        f"prompts {prompts(page)})"
    )


def run_all_cells(page, timeout: float) -> None:
    """Run menu -> Run All Cells, then wait until every cell ran and the kernel is idle."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    # The first cell goes to [*] at once; wait for that so we do not see the idle before.
    page.wait_for_function(
        """([cells, prompt]) => [...document.querySelectorAll(cells + ' ' + prompt)]
             .some(p => p.textContent.includes('*') || /\\d/.test(p.textContent))""",
        arg=[CODE_CELL, PROMPT],
        timeout=30_000,
    )
    wait_until_idle(page, timeout)


def cell_errors(page) -> list[CellError]:
    """Every error shown under a code cell: an error output, or stderr with a traceback."""
    found = []
    for index, cell in enumerate(page.locator(CODE_CELL).all(), start=1):
        for output in cell.locator(STDERR_OUTPUT).all():
            text = output.inner_text()
            if "Traceback" in text or EXCEPTION_LINE.search(text):
                found.append(CellError(index, text[-2000:]))
    return found


def output_texts(page) -> list[str]:
    """The text of every output of every code cell, in order."""
    return page.locator(f"{CODE_CELL} .jp-OutputArea-output").all_inner_texts()
