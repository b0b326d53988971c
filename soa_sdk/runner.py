"""Run the lab's notebooks headless with papermill, in order, into a fresh run folder.

Every executed notebook is written, even a failing one (papermill marks the failing cell).
The result says, for each notebook, whether it passed, how long it took, and for a failure
which cell failed, why, and what to do.

Each cell has a time limit (papermill's ``execution_timeout``): :data:`DEFAULT_CELL_TIMEOUT`,
or ``$SOA_LAB_CELL_TIMEOUT``, or the ``cell_timeout`` argument (``soa-lab run
--cell-timeout``). The slowest cell of a warm run takes about 10 s; the first run of notebook
05 also installs checkov (about 30 s to a minute, :mod:`soa_sdk.tools`), hence the room. A
cell that runs out of time, and a kernel that dies, are failures like a raised exception:
the executed notebook is written with that cell marked, and the result names it.

Kernels talk to the runner over Unix sockets in a private folder (jupyter_client's ``ipc``
transport), not over loopback TCP, where any process of the machine could reach them; so the
terminal also stays free of ipykernel's warning about unencrypted TCP.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from soa_sdk.errors import ValidationError

DEFAULT_CELL_TIMEOUT = 600.0


@dataclass(frozen=True)
class NotebookRun:
    """The result of executing one notebook."""

    name: str
    output: Path
    ok: bool
    seconds: float
    failed_cell: int | None = None
    error: str = ""
    hint: str = ""  # what to do about the failure, when the runner knows more than the error

    @property
    def where(self) -> str:
        """`` at cell N`` for a failed cell, "" when the notebook failed before any cell."""
        return "" if self.failed_cell is None else f" at cell {self.failed_cell}"


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


def cell_timeout(configured: float | None = None) -> float:
    """The per-cell time limit: ``configured``, else ``$SOA_LAB_CELL_TIMEOUT``, else the
    default; must be a positive number of seconds."""
    raw: object = configured if configured is not None else os.environ.get("SOA_LAB_CELL_TIMEOUT")
    if raw is None or raw == "":
        return DEFAULT_CELL_TIMEOUT
    try:
        seconds = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(raw, bool) or not seconds > 0:
        raise ValidationError(
            f"The cell time limit must be a positive number of seconds, not {raw!r} "
            "(soa-lab run --cell-timeout, or SOA_LAB_CELL_TIMEOUT)."
        )
    return seconds


def _mark_interrupted_cell(output: Path, ename: str, evalue: str) -> int | None:
    """In an executed notebook that papermill saved when a cell timed out or the kernel died,
    mark the last cell that started as failed, with the error as its output (papermill does
    this itself only for exceptions raised in a cell). Returns that cell's index."""
    try:
        document = json.loads(output.read_text())
    except (OSError, ValueError):
        return None
    started = [
        index
        for index, cell in enumerate(document.get("cells", []))
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    if not started:
        return None
    index = started[-1]
    cell = document["cells"][index]
    cell["metadata"]["papermill"]["status"] = "failed"
    cell.setdefault("outputs", []).append(
        {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}
    )
    document.setdefault("metadata", {}).setdefault("papermill", {})["exception"] = True
    output.write_text(json.dumps(document, indent=1) + "\n")
    return index


def run_notebook(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
) -> NotebookRun:
    """Execute one notebook with papermill; never raises for a failing, timed-out or
    crashed cell (see the module's docstring)."""
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbformat import ValidationError as NbformatValidationError
    from papermill.exceptions import PapermillException, PapermillExecutionError

    limit = cell_timeout(timeout)
    notebook, output = Path(notebook), Path(output)
    sockets = tempfile.TemporaryDirectory(prefix="soa-lab-kernel-")  # mode 0700
    kernel = AsyncKernelManager(
        kernel_name="python3", transport="ipc", ip=str(Path(sockets.name) / "kernel")
    )
    started = time.monotonic()

    def failed(cell: int | None, error: str, hint: str = "") -> NotebookRun:
        seconds = time.monotonic() - started
        return NotebookRun(notebook.stem, output, False, seconds, cell, error, hint)

    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters or {},
            kernel_name="python3",
            language="python",  # for the injected parameters: a notebook may not say
            # A bar of cells in a terminal; nothing in CI logs or when output is captured.
            progress_bar=sys.stderr.isatty(),
            cwd=str(notebook.parent),
            execution_timeout=limit,
            km=kernel,
        )
    except PapermillExecutionError as error:
        return failed(error.cell_index, f"{error.ename}: {error.evalue}")
    except CellTimeoutError:
        message = f"the cell ran for more than {limit:.0f} s and was stopped"
        cell = _mark_interrupted_cell(output, "CellTimeoutError", message)
        return failed(
            cell,
            f"CellTimeoutError: {message}",
            "Open the executed notebook to see what the cell was waiting for; `soa-lab "
            "status` shows whether a sandbox service is down. On a slow machine raise the "
            "limit: soa-lab run --cell-timeout SECONDS (or SOA_LAB_CELL_TIMEOUT).",
        )
    except DeadKernelError as error:
        message = f"the notebook's Python kernel died ({error})"
        cell = _mark_interrupted_cell(output, "DeadKernelError", message)
        return failed(
            cell,
            f"DeadKernelError: {message}",
            "The kernel process was killed, most often for lack of memory: close other "
            "programs (`free -h` shows what is left) and run the notebook again.",
        )
    except (ValueError, OSError, PapermillException, NbformatValidationError) as error:
        # Not a cell's failure (CellTimeoutError, a TimeoutError and so an OSError, is caught
        # above): the file could not be read as a notebook, or the output not written.
        return failed(
            None,
            f"the notebook could not be run ({type(error).__name__}: {error})",
            f"Check that {notebook} is a Jupyter notebook that JupyterLab opens, and that "
            f"{output.parent} is writable.",
        )
    finally:
        if kernel.has_kernel:
            # Asked, not killed (jupyter_client kills it if it has not exited within
            # shutdown_wait_time): the kernel's atexit handlers and finalizers run, which stop
            # what the lab started in it and remove its temporary folders.
            asyncio.run(kernel.shutdown_kernel(now=False))
        sockets.cleanup()
    return NotebookRun(notebook.stem, output, True, time.monotonic() - started)


HEADLESS_PARAMETERS: dict[str, Any] = {"STEP_SECONDS": 0}
"""What ``soa-lab run`` sets unless told otherwise: no notebook output is watched while it
runs, so notebook 03 does not hold each canary weight on the store's page for eyes (its
``STEP_SECONDS``: 2 s in JupyterLab, 2 s per weight held, about 8 s of the whole run)."""


def parse_parameter(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` as papermill's ``-p`` reads it: VALUE becomes an int, a float, ``True``,
    ``False`` or ``None`` where it spells one, else stays a string."""
    name, sep, raw = text.partition("=")
    if not sep or not name.isidentifier():
        raise ValidationError(f"a parameter is NAME=VALUE, e.g. STEP_SECONDS=2; got {text!r}")
    for kind in (int, float):
        try:
            return name, kind(raw)
        except ValueError:
            pass
    return name, {"True": True, "False": False, "None": None}.get(raw, raw)


def declared_parameters(notebook: Path) -> set[str]:
    """The names assigned in ``notebook``'s parameters cell (the code cell tagged
    ``parameters``, as papermill finds it). Read with :mod:`ast` rather than papermill's
    ``inspect_notebook``, which needs the notebook's language in its metadata; a notebook
    that cannot be read declares nothing (:func:`run_notebook` then reports why)."""
    try:
        cells = json.loads(Path(notebook).read_text())["cells"]
        source = next(
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells
            if c.get("cell_type") == "code"
            and "parameters" in c.get("metadata", {}).get("tags", [])
        )
        tree = ast.parse(source)
    except (OSError, ValueError, KeyError, TypeError, StopIteration, SyntaxError):
        return set()
    names: set[str] = set()
    for statement in tree.body:
        targets = (
            statement.targets
            if isinstance(statement, ast.Assign)
            else [statement.target]
            if isinstance(statement, ast.AnnAssign)
            else []
        )
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def check_parameters(notebooks: list[Path], parameters: dict[str, Any]) -> None:
    """Refuse, before anything runs, a parameter that none of ``notebooks`` declares (a typo
    would otherwise be injected as a stray variable and change nothing)."""
    declared = set().union(*(declared_parameters(n) for n in notebooks))
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise ValidationError(
            f"no notebook has a parameter {', '.join(unknown)}; "
            f"their parameters are: {', '.join(sorted(declared))}"
        )


def run_all(
    notebooks: list[Path],
    folder: Path,
    parameters: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    stop_on_failure: bool = True,
    timeout: float | None = None,
    where_declared: dict[str, Any] | None = None,
) -> list[NotebookRun]:
    """Run ``notebooks`` in order into ``folder``, each with ``parameters`` and those of
    ``where_declared`` that its parameters cell declares. Later steps build on earlier ones,
    so by default the run stops at the first failure."""
    say = progress or (lambda message: None)
    results = []
    for notebook in notebooks:
        say(f"running {notebook.name} ...")
        declared = declared_parameters(notebook) if where_declared else set()
        own = {n: v for n, v in (where_declared or {}).items() if n in declared}
        own.update(parameters or {})
        result = run_notebook(notebook, folder / notebook.name, own, timeout=timeout)
        results.append(result)
        verdict = "ok" if result.ok else f"FAILED{result.where}: {result.error}"
        say(f"{notebook.name}: {verdict} ({result.seconds:.1f} s)")
        if not result.ok and stop_on_failure:
            break
    return results
