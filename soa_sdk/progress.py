"""Progress a person can see on long work: in a terminal and in a notebook.

    with progress.task("Driving 2,000 requests through the mesh", total=2000) as bar:
        for batch in batches:
            send(batch)
            bar.advance(len(batch))

In a terminal (or a log) it prints lines stamped with the elapsed seconds, at most one every
``interval`` seconds plus the first and the last, so CI logs stay short:

    [   0.0 s] Driving 2,000 requests through the mesh: 0/2,000 (0%)
    [   2.0 s] Driving 2,000 requests through the mesh: 840/2,000 (42%)
    [   4.6 s] Driving 2,000 requests through the mesh: done, 2,000/2,000 (100%)

In a Jupyter kernel it shows one output that updates in place (an IPython display handle with
an HTML ``<progress>`` bar and a text fallback); papermill keeps its last state in the
executed notebook. No dependency: IPython is used only when a kernel has already loaded it.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, TextIO

Mode = Literal["auto", "terminal", "notebook"]
Clock = Callable[[], float]


def in_kernel() -> bool:
    """True when running inside a Jupyter kernel (IPython's ZMQ shell), False in a terminal."""
    ipython = sys.modules.get("IPython")  # never import it ourselves: a CLI does not need it
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class Task:
    """One piece of long work: a description, an optional total, a count done so far.

    Use it as a context manager (:func:`task`); the closing line says how long it took, or
    that it failed and with which exception type (the exception itself is not swallowed).
    """

    def __init__(
        self,
        description: str,
        total: int | None = None,
        *,
        mode: Mode = "auto",
        stream: TextIO | None = None,
        interval: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if total is not None and total < 0:
            raise ValueError(f"total must be 0 or more, not {total}")
        self.description, self.total, self.done, self.status = description, total, 0, ""
        self._stream, self._interval, self._clock = stream, interval, clock
        self._notebook = in_kernel() if mode == "auto" else mode == "notebook"
        self._started = self._last_shown = clock()
        self._handle: Any = None

    @property
    def elapsed(self) -> float:
        """Seconds since the task started."""
        return self._clock() - self._started

    def advance(self, count: int = 1) -> None:
        """``count`` more units are done."""
        self.update(self.done + count)

    def update(self, done: int | None = None, status: str | None = None) -> None:
        """Set how much is done and/or a short status (e.g. ``"weight 25%"``); a new status
        shows at once, counts at most every ``interval`` seconds."""
        if done is not None:
            self.done = done
        changed = status is not None and status != self.status
        if status is not None:
            self.status = status
        now = self._clock()
        # A notebook output can update often and cheaply; a terminal gets a line now and then.
        wait = min(self._interval, 0.25) if self._notebook else self._interval
        if changed or now - self._last_shown >= wait:
            self._last_shown = now
            self._show()

    def text(self, final: str = "") -> str:
        """The current line, e.g. ``[  2.0 s] Driving ...: 840/2,000 (42%) - weight 25%``."""
        parts = [final] if final else []
        if self.total:
            parts.append(f"{self.done:,}/{self.total:,} ({100 * self.done / self.total:.0f}%)")
        elif self.done:
            parts.append(f"{self.done:,}")
        if self.status:
            parts.append(self.status)
        detail = f": {', '.join(parts)}" if parts else ""
        return f"[{self.elapsed:6.1f} s] {self.description}{detail}"

    def _html(self, line: str) -> str:
        bar = ""
        if self.total:
            bar = f'<progress value="{self.done}" max="{self.total}"></progress> '
        return f"<div>{bar}<code>{html.escape(line)}</code></div>"

    def _show(self, final: str = "") -> None:
        line = self.text(final)
        if not self._notebook:
            print(line, file=self._stream or sys.stdout, flush=True)
            return
        from IPython.display import display  # in a kernel, IPython is there

        bundle = {"text/plain": line, "text/html": self._html(line)}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def __enter__(self) -> Task:
        self._show()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: Any, trace: Any) -> None:
        if kind is None:
            self._show("done")
        else:
            self._show(f"failed ({kind.__name__})")


#: A :class:`Task` to use in a ``with`` block (``progress.task(...)``); ``mode`` forces terminal
#: or notebook. The class itself, so its arguments are written once.
task = Task


def stamped(stream: TextIO | None = None, clock: Clock = time.monotonic) -> Callable[[str], None]:
    """A ``progress(message)`` callback (as ``lifecycle.up`` and ``runner.run_all`` take) that
    prints each message stamped with the seconds since this call, e.g. ``[   1.4 s] vault
    healthy at http://127.0.0.1:8200``."""
    started = clock()

    def say(message: str) -> None:
        print(f"[{clock() - started:6.1f} s] {message}", file=stream or sys.stdout, flush=True)

    return say
