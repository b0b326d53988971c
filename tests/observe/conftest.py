"""Step 2's tests share the session's sandbox with the organization and the production ECS
runtime in it (both made idempotently here, so no other test has to run first)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
import requests

from soa_sdk.telemetry import wait_flushed


@pytest.fixture(scope="module")
def ecs(lab: Any) -> Any:
    """The production runtime ``runtime-ecs`` (created when missing), in its declared state:
    a canary promoted by an earlier test (notebook 03) is undone, so that every declared
    version runs and no other does."""
    lab.org.require()
    report = lab.runtime.require("runtime-ecs")
    for service in lab.runtime.spec("runtime-ecs").services:
        lab.release.reset(service.name, "runtime-ecs")
    return report


def telemetry(
    lab: Any, since: float | None = None, after: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The mesh's records read straight from the Envoys' access log file (not through the
    SDK's reader): one per request at the destination's sidecar (its ``public`` listener),
    numbered in file order from 1, as the SDK numbers them; versions from Consul's catalog."""
    sandbox = lab.sandbox
    assert sandbox.envoy_access_log, "the sandbox records no Envoy access log"
    wait_flushed(sandbox.envoy_admin_urls, headers=sandbox.envoy_admin_headers)
    versions: dict[tuple[str, str], dict[str, str]] = {}

    def version(partition: str, service: str, instance: str) -> str:
        if (partition, service) not in versions:
            reply = requests.get(
                f"{lab.endpoints.consul_url}/v1/catalog/service/{service}",
                params={"partition": partition},
                headers={"X-Consul-Token": lab.credentials.consul_token or ""},
                timeout=10,
            )
            reply.raise_for_status()
            entries = reply.json()
            versions[(partition, service)] = {
                e["ServiceID"]: (e.get("ServiceMeta") or {}).get("version", "") for e in entries
            }
        return versions[(partition, service)].get(instance, "")

    records: list[dict[str, Any]] = []
    seq = 0
    with open(sandbox.envoy_access_log, encoding="utf-8") as log:
        for raw in log:
            if not raw.endswith("\n"):
                break  # a line Envoy is still writing
            line = json.loads(raw)
            if line.get("listener") != "public":
                continue
            try:
                code = int(line["status"])
                when = datetime.fromisoformat(line["start_time"].replace("Z", "+00:00"))
            except (KeyError, ValueError):
                continue
            seq += 1
            if seq <= after or (since is not None and when.timestamp() < since):
                continue
            peer = re.search(r"/svc/([^/]+)$", line.get("peer") or "")
            partition, service = line.get("partition") or "default", line["identity"]
            records.append(
                {
                    "seq": seq,
                    "source": peer.group(1) if peer else "",
                    "destination": service,
                    "partition": partition,
                    "instance": line.get("instance") or "",
                    "version": version(partition, service, line.get("instance") or ""),
                    "code": code,
                }
            )
            if limit is not None and len(records) >= limit:
                break
    return records


def lookups_in_management(lab: Any, since: datetime) -> int:
    """How many LookupEvents calls the management account's CloudTrail recorded since
    ``since`` (this look-up is recorded after it answers, so it counts in the next one)."""
    client = lab.aws.client("cloudtrail")
    attribute = [{"AttributeKey": "EventName", "AttributeValue": "LookupEvents"}]
    reply = client.lookup_events(LookupAttributes=attribute, StartTime=since, MaxResults=50)
    assert "NextToken" not in reply, "keep the window small enough for one page"
    return len(reply["Events"])
