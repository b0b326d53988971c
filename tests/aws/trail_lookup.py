"""CloudTrail's ``LookupEvents`` in the sandbox's AWS, every page of it."""

from __future__ import annotations

from typing import Any


def lookup_events(
    client: Any, key: str | None = None, value: str | None = None, **kw: Any
) -> list[dict[str, Any]]:
    """Every event matching one lookup attribute (all events without ``key``), following
    NextToken; ``kw`` are more LookupEvents arguments (StartTime, EndTime)."""
    if key is not None:
        kw["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    out: list[dict[str, Any]] = []
    while True:
        page = client.lookup_events(**kw)
        out.extend(page["Events"])
        if "NextToken" not in page:
            return out
        kw["NextToken"] = page["NextToken"]
