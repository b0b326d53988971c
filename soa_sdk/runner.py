"""Run the lab's notebooks headless with papermill, in order, into a fresh run folder.

Every executed notebook is written, even a failing one (papermill marks the failing cell).
The result says, for each notebook, whether it passed, how long it took, and for a failure
which cell failed and why.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from soa_sdk.errors import ValidationError


@dataclass(frozen=True)
class NotebookRun:
    """The result of executing one notebook."""

    name: str
    output: Path
    ok: bool
    seconds: float
    failed_cell: int | None = None
    error: str = ""


def notebooks_in(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks of ``folder`` in order, optionally only those named in ``only``
    (by prefix, e.g. ``["00", "01_create_runtime"]``)."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.stem.startswith(prefix) for prefix in only)]
    if not found:
        wanted = f" matching {', '.join(only)}" if only else ""
        raise ValidationError(f"No notebooks{wanted} in {folder}.")
    return found


def new_run_folder(root: Path) -> Path:
    """``root/run-YYYYmmdd-HHMMSS`` (a suffix is added when it exists already)."""
    stamp = datetime.now().strftime("run-%Y%m%d-%H%M%S")
    folder = root / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = root / f"{stamp}-{suffix}"
    folder.mkdir(parents=True)
    return folder


def run_notebook(
    notebook: Path, output: Path, parameters: dict[str, Any] | None = None
) -> NotebookRun:
    """Execute one notebook with papermill; never raises for a failing cell."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.monotonic()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters or {},
            kernel_name="python3",
            # A bar of cells in a terminal; nothing in CI logs or when output is captured.
            progress_bar=sys.stderr.isatty(),
            cwd=str(notebook.parent),
        )
    except PapermillExecutionError as error:
        return NotebookRun(
            notebook.stem,
            output,
            False,
            time.monotonic() - started,
            failed_cell=error.cell_index,
            error=f"{error.ename}: {error.evalue}",
        )
    return NotebookRun(notebook.stem, output, True, time.monotonic() - started)


def run_all(
    notebooks: list[Path],
    folder: Path,
    parameters: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    stop_on_failure: bool = True,
) -> list[NotebookRun]:
    """Run ``notebooks`` in order into ``folder``. Later steps build on earlier ones, so by
    default the run stops at the first failure."""
    say = progress or (lambda message: None)
    results = []
    for notebook in notebooks:
        say(f"running {notebook.name} ...")
        result = run_notebook(notebook, folder / notebook.name, parameters)
        results.append(result)
        verdict = "ok" if result.ok else f"FAILED at cell {result.failed_cell}: {result.error}"
        say(f"{notebook.name}: {verdict} ({result.seconds:.1f} s)")
        if not result.ok and stop_on_failure:
            break
    return results
