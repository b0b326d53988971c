"""Keep the figures an executed notebook shows as PNG files (test artifacts), so that they
can be looked at: ``$SOA_LAB_TEST_ARTIFACTS/figures/<notebook>-<cell>-<n>.png``."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat


def keep_figures(executed: Path, folder: Path) -> list[Path]:
    """Write every ``image/png`` output of the executed notebook to ``folder``; the paths."""
    notebook = nbformat.read(executed, as_version=4)
    kept = []
    for index, cell in enumerate(notebook.cells):
        pictures = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for n, output in enumerate(pictures):
            path = folder / f"{executed.stem}-cell{index:02}-{n}.png"
            path.write_bytes(base64.b64decode(output["data"]["image/png"]))
            kept.append(path)
    return kept
