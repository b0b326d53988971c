"""Who did what: CloudTrail event history across the organization's accounts.

Real API: CloudTrail ``LookupEvents`` (``cloudtrail.get_paginator("lookup_events")``). It
returns the management events of the caller's own account and Region, newest first, 90 days
back; it takes at most ONE lookup attribute (``EventName``, ``ReadOnly``, ``Username``,
``ResourceName``, ``ResourceType``, ``EventSource``, ``EventId``, ``AccessKeyId``), a
``StartTime``/``EndTime`` (both inclusive) and pages of up to 50 events (``NextToken``).
To see several accounts we ask each one through its own session: the management account
with the lab's session, members through step 0's ``AssumeRole`` sessions. (An organization
trail delivering to S3 and Athena is the production way to query everything at once; it is
declared in Terraform, not queried here.)

Event times are whole seconds (``EventTime`` has no fraction), so the window is sent at that
resolution: ``start`` and ``end`` are truncated to their second, and an event in the same
second as ``start`` is included whatever the service does with a fraction.

When both ``event_name`` and a read/write filter are asked for, ``EventName`` goes to the API
and the ``ReadOnly`` flag is applied to the results, since the API takes one attribute only.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from soa_sdk import validate
from soa_sdk.awsclient import translate_client_error
from soa_sdk.errors import SoaLabError
from soa_sdk.observe.context import Context, time_range
from soa_sdk.tables import Table

MAX_EVENTS = 10_000
PAGE_SIZE = 50  # LookupEvents' maximum MaxResults
RESOURCE_WIDTH = 80


def short(name: str) -> str:
    """An ARN's resource part (``service/runtime-ecs/store``); other names as they are."""
    return name.split(":", 5)[-1] if name.startswith("arn:") else name


def who_did_what(
    ctx: Context,
    accounts: list[str] | None = None,
    start: datetime | timedelta | float | None = None,
    end: datetime | timedelta | float | None = None,
    read_only: bool | None = False,
    event_name: str | None = None,
    max_events: int = 200,
    region: str | None = None,
) -> Table:
    """Events across ``accounts`` (all, with ``management``, when None), newest first.

    ``read_only=False`` keeps the changes (CloudTrail's ``ReadOnly`` = ``false``), ``True``
    only the reads, ``None`` both. ``max_events`` caps the rows (1-10000).
    """
    begin, finish = time_range(start, end)
    validate.whole(max_events, "max_events", 1, MAX_EVENTS)
    validate.flag(read_only, "read_only", none=True)
    if event_name is not None:
        validate.text(event_name, "event_name (an API operation name such as CreateCluster)")
    if region is not None:
        validate.REGION.check(region)
    names = ctx.check_accounts(accounts)
    kwargs: dict[str, Any] = {}
    if begin is not None:
        kwargs["StartTime"] = begin.replace(microsecond=0)
    if finish is not None:
        kwargs["EndTime"] = finish.replace(microsecond=0)
    if event_name:
        kwargs["LookupAttributes"] = [{"AttributeKey": "EventName", "AttributeValue": event_name}]
    elif read_only is not None:
        kwargs["LookupAttributes"] = [
            {"AttributeKey": "ReadOnly", "AttributeValue": "true" if read_only else "false"}
        ]
    rows: list[dict[str, Any]] = []
    for account in names:
        for event in _lookup(ctx, account, region, kwargs, int(max_events)):
            if read_only is not None and event.get("ReadOnly") != str(read_only).lower():
                continue
            rows.append(event_row(account, event))
    rows.sort(key=lambda r: r["time"], reverse=True)
    title = "Who did what (CloudTrail LookupEvents"
    title += f", {'reads' if read_only else 'changes'})" if read_only is not None else ")"
    return Table(rows[: int(max_events)], title=title)


def _lookup(
    ctx: Context, account: str, region: str | None, kwargs: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    try:
        client = ctx.client(account, "cloudtrail", region)
        pages = client.get_paginator("lookup_events").paginate(
            **kwargs, PaginationConfig={"MaxItems": limit, "PageSize": PAGE_SIZE}
        )
        return [event for page in pages for event in page["Events"]]
    except SoaLabError:
        raise
    except Exception as error:
        raise translate_client_error(error, f"look up CloudTrail events in '{account}'") from None


def event_row(account: str, event: dict[str, Any]) -> dict[str, Any]:
    """One table row: when, where, who, what, through which service, on what."""
    record = json.loads(event.get("CloudTrailEvent") or "{}")
    names = [short(r.get("ResourceName", "")) for r in event.get("Resources") or []]
    resources = ", ".join(dict.fromkeys(n for n in names if n))
    if len(resources) > RESOURCE_WIDTH:
        resources = resources[: RESOURCE_WIDTH - 3] + "..."
    return {
        "time": event["EventTime"],
        "account": account,
        "account_id": record.get("recipientAccountId", ""),
        "who": identity(record.get("userIdentity") or {}, event.get("Username")),
        "event": event["EventName"],
        "source": event.get("EventSource", ""),
        "resource": resources,
        "read_only": event.get("ReadOnly") == "true",
    }


def identity(user: dict[str, Any], username: str | None = None) -> str:
    """A short name for CloudTrail's ``userIdentity``: ``assumed-role/ROLE/SESSION``,
    ``user/NAME``, ``root``, ``account ID`` (a caller from another account), ``service``."""
    kind = user.get("type")
    arn = str(user.get("arn", ""))
    if kind == "AssumedRole":
        return arn.split(":", 5)[-1] if arn else f"assumed-role/{username}"
    if kind == "IAMUser":
        return f"user/{user.get('userName') or username}"
    if kind == "Root":
        return "root"
    if kind == "AWSAccount":
        return f"account {user.get('accountId', '')}".strip()
    if kind == "AWSService":
        return str(user.get("invokedBy", "AWS service"))
    return str(username or kind or "unknown")
