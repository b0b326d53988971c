"""How far the mesh telemetry has been published, kept in Consul KV so that no request is
published twice, whichever kernel or process publishes next.

The value at ``soa-lab/observe/published`` is ``{"seq": N, "time": T}``: the sequence number
and start time of the last telemetry record published. Claims use KV check-and-set
(``PUT /v1/kv/:key?cas=<ModifyIndex>``; ``cas=0`` creates only if absent), so two publishers
cannot claim the same records. The data plane numbers records from 1 when it starts: when
the record at ``N`` no longer has time ``T``, the plane was restarted and we start over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from soa_sdk.consul_api import ConsulApi
from soa_sdk.errors import Conflict

KEY = "soa-lab/observe/published"


@dataclass(frozen=True)
class Cursor:
    seq: int
    time: float
    index: int  # the KV ModifyIndex this was read at (0: no key yet)


def read(consul: ConsulApi) -> Cursor:
    _, item = consul.client.kv.get(KEY)
    if not item or not item.get("Value"):
        return Cursor(0, 0.0, 0)
    value = json.loads(item["Value"])
    return Cursor(int(value["seq"]), float(value["time"]), int(item["ModifyIndex"]))


def claim(consul: ConsulApi, current: Cursor, seq: int, time: float) -> Cursor:
    """Move the cursor from ``current`` to ``seq``; Conflict when someone else moved it."""
    ok = consul.request(
        "PUT",
        f"kv/{KEY}",
        params={"cas": current.index},
        json={"seq": seq, "time": time},
        doing="record how far the telemetry is published",
    )
    if ok is not True:
        raise Conflict(
            "Another publisher published the mesh telemetry at the same time; run it again."
        )
    return read(consul)


def reset(consul: ConsulApi) -> None:
    """Forget the cursor (the next publish starts from the oldest record still buffered)."""
    consul.client.kv.delete(KEY)
