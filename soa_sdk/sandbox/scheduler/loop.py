"""The scheduler's loop: wait on the feed, reconcile, report; and its status.

It learns of changes by a long poll of the AWS stand-in's feed
(:mod:`soa_sdk.sandbox.aws.scheduling`): the stand-in answers the moment an ECS, EKS or
Auto Scaling write succeeds in any account, whoever made it, and otherwise after
:data:`IDLE_WAIT` seconds, when the scheduler reconciles anyway (an instance stopped behind
its back comes back, as ECS replaces a stopped task). A pass that could not do everything
is tried again after :data:`RETRY_WAIT`. Why not poll every account with signed
``List``/``Describe`` calls: every half second that is tens of signed calls a second on two
cores, each recorded in the accounts' CloudTrail where ECS's own scheduler leaves nothing,
and a change is still seen up to half a second late.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from soa_sdk.sandbox.scheduler.feed import ComputeFeed, FeedError
from soa_sdk.sandbox.scheduler.reconciler import Pass, Reconciler

log = logging.getLogger("soa_sdk.sandbox.scheduler")

IDLE_WAIT = 5.0
RETRY_WAIT = 1.0


class SchedulerLoop:
    """Runs :meth:`run` in a thread until :meth:`stop`."""

    def __init__(self, feed: ComputeFeed, reconciler: Reconciler) -> None:
        self.feed = feed
        self.reconciler = reconciler
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.last: Pass | None = None
        self.passes = 0
        self.busy_seconds = 0.0
        self._thread = threading.Thread(target=self.run, name="scheduler", daemon=True)

    def start(self) -> SchedulerLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        seq, wait = -1, 0.0
        while not self._stopping.is_set():
            try:
                snapshot = self.feed.changes(seq, wait)
            except FeedError as error:
                log.warning("%s", error)
                self._stopping.wait(RETRY_WAIT)
                continue
            if self._stopping.is_set():
                break
            try:
                done = self.reconciler.reconcile(snapshot)
            except Exception:
                log.exception("the pass for change %s failed", snapshot.get("seq"))
                self._stopping.wait(RETRY_WAIT)
                seq, wait = -1, 0.0
                continue
            with self._lock:
                self.last, self.passes = done, self.passes + 1
                self.busy_seconds += done.seconds
            for problem in done.problems:
                log.warning("%s", problem)
            if done.changed:
                log.info("change %d: started %d, stopped %d in %.0f ms", done.seq,
                         len(done.started), len(done.stopped), done.seconds * 1000)  # fmt: skip
            seq = done.seq
            wait = RETRY_WAIT if done.problems else IDLE_WAIT
            if done.problems:
                seq = -1  # answer at once after the pause: try again with a fresh snapshot
                self._stopping.wait(RETRY_WAIT)

    def status(self) -> dict[str, Any]:
        """What it runs (per ECS service: revision, desired, running), and its costs."""
        with self._lock:
            last = self.last
            return {
                "seq": last.seq if last else None,
                "passes": self.passes,
                "busy_seconds": round(self.busy_seconds, 3),
                "last_pass_ms": round(last.seconds * 1000, 1) if last else None,
                "problems": list(last.problems) if last else [],
                "services": dict(self.reconciler.wanted),
                "at": time.time(),
            }
