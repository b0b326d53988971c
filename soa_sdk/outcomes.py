"""Outcomes a notebook records in its last cell, and tests read back from the executed file.

A notebook calls :func:`record` with plain values (counts, ids, booleans) after its asserts.
They are written into the cell's output under a MIME type of our own, so that the executed
notebook carries them; :func:`read` finds them again. Never record a secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MIME_TYPE = "application/vnd.soa-lab.outcome+json"


class Outcome(dict[str, Any]):
    """The recorded values; shows as a short summary in the notebook."""

    def _summary(self) -> str:
        return "Outcome recorded:\n" + "\n".join(f"{key}: {value}" for key, value in self.items())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {MIME_TYPE: dict(self), "text/plain": self._summary()}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's dict printer would otherwise win over the plain text above.
        printer.text(self._summary())


def record(**values: Any) -> Outcome:
    """Record the step's outcome; returns an object to leave as the cell's last expression."""
    json.dumps(values)  # fail here, clearly, on anything that is not plain JSON
    return Outcome(values)


def read(notebook: Path | str) -> dict[str, Any]:
    """The outcome recorded in an executed notebook (the last one, if several)."""
    document = json.loads(Path(notebook).read_text())
    found: dict[str, Any] | None = None
    for cell in document.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME_TYPE in data:
                found = data[MIME_TYPE]
    if found is None:
        raise LookupError(f"{notebook} recorded no outcome (did its last cell run?).")
    return found
