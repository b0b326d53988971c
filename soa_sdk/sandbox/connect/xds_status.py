"""What the Envoys accepted and rejected, in a file ``soa-lab status`` reads.

The ADS server (:mod:`.ads`) runs in the Consul emulator's process; ``soa-lab status`` runs in
another. Real Consul has no API that says which config versions a proxy accepted (its
operators read the proxy's admin ``/config_dump`` and the agent's log), so rather than add an
endpoint to the emulator's API, the server keeps its :meth:`~.ads.AdsServer.status` in a JSON
file under the sandbox's home (``0600``, like the state file that holds the sandbox's
secrets), and the CLI reads it:

``{"updated": <epoch s>, "nodes": {<node id>: {"acked": {<type URL>: <version>}, "acked_at":
{...}, "pending": [...], "nacks": <count>, "last_nack": {"node", "type_url", "version",
"message", "at"} | null, "problems": [...]}}}``

:class:`StatusWriter` keeps the stream threads' cost to setting an event: one thread of its
own writes the file (atomically: a temporary file renamed), at most every
:data:`COALESCE` seconds. :func:`read` and :func:`describe` are the CLI's side.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("soa_lab.connect.xds_status")

COALESCE = 0.05
"""Seconds between two writes of the file at most (changes meanwhile go in the next)."""


class StatusWriter:
    """Writes ``snapshot()`` to ``path`` whenever :meth:`mark` was called since the last write."""

    def __init__(self, path: str | Path, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.path = Path(path)
        self.snapshot = snapshot
        self._dirty = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="xds-status")

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()  # an empty status at once: the server runs, no Envoy has connected
        self._thread.start()

    def mark(self) -> None:
        """Something in ``snapshot()`` changed (called on the stream threads: cheap)."""
        if not self._dirty.is_set():  # a flag read; set() takes the event's lock
            self._dirty.set()

    def stop(self) -> None:
        self._stopping = True
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stopping:
            self._dirty.wait()
            if self._stopping:
                break
            self._dirty.clear()
            self._write()
            time.sleep(COALESCE)

    def _write(self) -> None:
        try:
            document = {"updated": time.time(), "nodes": self.snapshot()}
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".xds-status-")
            with os.fdopen(fd, "w") as out:  # mkstemp's file is 0600
                json.dump(document, out, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except Exception:  # the status is an aid; the xDS server goes on without it
            log.exception("xDS: cannot write the status file %s", self.path)


def read(path: str | Path) -> dict[str, Any] | None:
    """The status file's document, or None when there is none (yet) or it is unreadable."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def short_type(type_url: str) -> str:
    """``clusters`` for ``...envoy.config.cluster.v3.Cluster`` (as Envoy's admin names them)."""
    name = type_url.rsplit(".", 1)[-1]
    return {
        "ClusterLoadAssignment": "endpoints",
        "RouteConfiguration": "routes",
    }.get(name, name.lower() + "s")


def describe(document: dict[str, Any] | None, node: str) -> list[str]:
    """Lines saying what ``node`` accepted and the last NACK, with Envoy's own message."""
    if document is None:
        return ["xDS: no status from Consul's xDS server yet"]
    state = (document.get("nodes") or {}).get(node)
    if state is None:
        return [f"xDS: {node} is not connected to Consul's xDS server"]
    acked = state.get("acked") or {}
    versions = ", ".join(f"{short_type(t)} {v}" for t, v in sorted(acked.items())) or "nothing"
    lines = [f"xDS accepted: {versions}"]
    if state.get("pending"):
        lines.append("xDS awaiting an answer: " + ", ".join(map(short_type, state["pending"])))
    nack = state.get("last_nack")
    if nack:
        when = time.strftime("%H:%M:%S", time.localtime(float(nack.get("at") or 0)))
        kind = str(nack.get("type_url", ""))
        since = float((state.get("acked_at") or {}).get(kind) or 0)
        after = " (a newer version was accepted since)" if since > float(nack["at"]) else ""
        lines.append(
            f"xDS NACK ({state.get('nacks', 1)} in all; last at {when}): {short_type(kind)} "
            f"version {nack.get('version')} rejected, Envoy keeps its previous config{after}: "
            f"{nack.get('message')}"
        )
    for problem in state.get("problems") or ():
        lines.append(f"xDS not built: {problem}")
    return lines


__all__ = ["COALESCE", "StatusWriter", "describe", "read", "short_type"]
