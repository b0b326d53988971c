"""The canary's lock: one Consul KV key per service, ``soa-lab/releases/<runtime>/<service>``.

The key is taken with ``cas=0`` (``PUT /v1/kv/:key?cas=0`` writes only when the key does not
exist) and holds the release (baseline, canary, start) with its owner (host, process, run)
and an expiry. A release deletes it when it ends, however it ends. When it cannot (Consul
itself stopped answering, or the process was killed), the key stays; a later release takes
it over, with ``cas=<ModifyIndex>`` and a warning, once it is stale: past its expiry, or
held by a process of this host that is gone, or by a run of this process that has ended.

Left out: Consul sessions (``PUT /v1/session/create`` with a TTL and ``?acquire=``), which
real Consul offers for locks held by live agents; a session-less value with an owner is
enough for one lab and survives what the sandbox's Consul emulator implements.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from typing import Any

from soa_sdk.consul_api import ConsulApi
from soa_sdk.errors import Conflict, NotFound

LOCK_PREFIX = "soa-lab/releases/"
LEGACY_TTL = 3600.0
"""Seconds after which a lock written without an expiry (before owners were recorded) is stale."""

_RUNNING: set[str] = set()  # run ids of this process's releases in progress


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _clock(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def stale(record: dict[str, Any], now: float | None = None) -> str | None:
    """Why the lock ``record`` is stale (a sentence), or None while its owner may still run."""
    now = time.time() if now is None else now
    owner = record.get("owner") or {}
    expires = record.get("expires") or float(record.get("started") or 0.0) + LEGACY_TTL
    if now > expires:
        return f"it expired at {_clock(expires)}"
    if owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return None  # another machine's process: only the expiry tells
    if owner["pid"] == os.getpid():
        if owner.get("run") not in _RUNNING:
            return "the release of this process that took it has ended"
        return None
    if not _alive(owner["pid"]):
        return f"process {owner['pid']} that took it is gone"
    return None


class CanaryLock:
    """The lock of ``service`` in ``runtime``, taken by one release (``run``)."""

    def __init__(self, consul: ConsulApi, runtime: str, service: str) -> None:
        self.consul = consul
        self.service = service
        self.key = f"{LOCK_PREFIX}{runtime}/{service}"
        self.run = uuid.uuid4().hex
        self.index = 0  # the key's ModifyIndex once taken

    def read(self) -> tuple[dict[str, Any] | None, int]:
        """``GET /v1/kv/:key``: the lock's record and ModifyIndex, ``(None, 0)`` when free."""
        try:
            items = self.consul.request("GET", f"kv/{self.key}")
        except NotFound:
            return None, 0
        item = items[0]
        value = base64.b64decode(item.get("Value") or "") or b"{}"
        return json.loads(value), int(item["ModifyIndex"])

    def take(self, baseline: str, canary: str, lasts: float) -> str | None:
        """Take the lock for at most ``lasts`` seconds; Conflict while another release holds
        it. Returns a sentence when a stale lock was taken over (None otherwise)."""
        held, index = self.read()
        said = None
        if held is not None:
            why = stale(held)
            if why is None:
                raise Conflict(
                    f"{self.service} already has a canary ({held.get('canary')} over "
                    f"{held.get('baseline')}, started at {_clock(held.get('started') or 0)}); "
                    "wait for it or call lab.release.rollback() first."
                )
            said = (
                f"Took over the canary lock of {self.service} ({held.get('canary')} over "
                f"{held.get('baseline')}, started at {_clock(held.get('started') or 0)}): "
                f"{why}."
            )
        now = time.time()
        record = {
            "baseline": baseline,
            "canary": canary,
            "started": now,
            "expires": now + lasts,
            "owner": {"host": socket.gethostname(), "pid": os.getpid(), "run": self.run},
        }
        taken = self.consul.request("PUT", f"kv/{self.key}", params={"cas": index}, json=record)
        if taken is not True:
            raise Conflict(f"{self.service} already has a canary (another release took the lock).")
        _RUNNING.add(self.run)
        _, self.index = self.read()
        return said

    def release(self) -> None:
        """Delete the key if this release still holds it (``DELETE ?cas=<ModifyIndex>``).
        The run ends here even when Consul does not answer: a later release may take over."""
        try:
            held, index = self.read()
            if held is not None and (held.get("owner") or {}).get("run") == self.run:
                self.consul.request("DELETE", f"kv/{self.key}", params={"cas": index})
        finally:
            _RUNNING.discard(self.run)
