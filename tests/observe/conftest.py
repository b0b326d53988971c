"""Step 2's tests share the session's sandbox with the organization and the production ECS
runtime in it (both made idempotently here, so no other test has to run first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import requests


@pytest.fixture(scope="module")
def ecs(lab: Any) -> Any:
    """The production runtime ``runtime-ecs`` (created when missing), in its declared state:
    a canary promoted by an earlier test (notebook 03) is undone, so that every declared
    version runs and no other does."""
    lab.org.ensure()
    report = lab.runtime.create("runtime-ecs")
    for service in lab.runtime.spec("runtime-ecs").services:
        lab.release.reset(service.name, "runtime-ecs")
    return report


def telemetry(lab: Any, **params: Any) -> list[dict[str, Any]]:
    """The mesh's records, read straight from its admin endpoint (not through the SDK)."""
    reply = requests.get(
        lab.mesh_admin_url + "/telemetry",
        params=params,
        headers=lab.mesh_admin_headers,
        timeout=10,
    )
    reply.raise_for_status()
    return reply.json()["records"]


def lookups_in_management(lab: Any, since: datetime) -> int:
    """How many LookupEvents calls the management account's CloudTrail recorded since
    ``since`` (this look-up is recorded after it answers, so it counts in the next one)."""
    client = lab.aws.client("cloudtrail")
    attribute = [{"AttributeKey": "EventName", "AttributeValue": "LookupEvents"}]
    reply = client.lookup_events(LookupAttributes=attribute, StartTime=since, MaxResults=50)
    assert "NextToken" not in reply, "keep the window small enough for one page"
    return len(reply["Events"])
