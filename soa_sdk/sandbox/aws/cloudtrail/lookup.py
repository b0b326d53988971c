"""CloudTrail `LookupEvents` over the recorded events.

Follows the API reference: at most one lookup attribute (`EventId`, `EventName`, `ReadOnly`,
`Username`, `ResourceType`, `ResourceName`, `EventSource`, `AccessKeyId`); `StartTime` and
`EndTime` inclusive, at whole-second resolution (below); `MaxResults` 1-50, default 50;
`NextToken` valid only with the same parameters; events of the caller's account and Region,
newest first. `EventCategory` `insight` returns no events (the sandbox has no Insights). The
rate limit (two lookups per second) is not enforced.

Times: an event's `eventTime` is a whole second (`2019-06-19T00:18:31Z`; `EventTime` an integer
epoch). The API reference does not say what a `StartTime` or `EndTime` with a fraction means;
older botocore sent whole seconds (the serializer's `legacy` precision drops the fraction),
current botocore sends microseconds. We compare at the resolution event times have: both ends
are truncated to their second, so an event in the same second as `StartTime` is "at" that
time and returned (a `StartTime` of 12:00:01.3 includes an event of 12:00:01).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from soa_sdk.sandbox.aws.cloudtrail.store import Event, EventStore

ATTRIBUTE_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
MAX_RESULTS = 50


class LookupError_(Exception):
    """A LookupEvents error, in CloudTrail's JSON error shape (HTTP 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return json.dumps({"__type": self.code, "message": self.message}).encode()


@dataclass(frozen=True)
class LookupRequest:
    attribute: tuple[str, str] | None
    start: datetime | None
    end: datetime | None
    max_results: int
    after_seq: int | None  # from NextToken: continue after this event
    after_time: datetime | None
    category: str | None

    def fingerprint(self) -> str:
        """What a NextToken must be used with (the same filters)."""
        parts = [repr(self.attribute), repr(self.start), repr(self.end), repr(self.category)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def parse_request(body: bytes) -> LookupRequest:
    """Validate a LookupEvents request body; raises LookupError_ before anything is read."""
    try:
        data = json.loads(body or b"{}")
    except ValueError as err:
        raise LookupError_("SerializationException", "Request body is not valid JSON") from err
    if not isinstance(data, dict):
        raise LookupError_("SerializationException", "Request body must be a JSON object")
    attribute = _attribute(data.get("LookupAttributes"))
    start = _time(data.get("StartTime"), "StartTime")
    end = _time(data.get("EndTime"), "EndTime")
    if start and end and start > end:
        raise LookupError_(
            "InvalidTimeRangeException",
            "Start time must be equal to or earlier than end time.",
        )
    max_results = data.get("MaxResults", MAX_RESULTS)
    if (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or not 1 <= max_results <= MAX_RESULTS
    ):
        raise LookupError_(
            "InvalidMaxResultsException",
            f"Value {max_results} for MaxResults is invalid. "
            f"It must be between 1 and {MAX_RESULTS}.",
        )
    category = data.get("EventCategory")
    if category is not None and category != "insight":
        raise LookupError_(
            "InvalidEventCategoryException",
            f"Value {category} for EventCategory is invalid. Valid value: insight.",
        )
    req = LookupRequest(attribute, start, end, max_results, None, None, category)
    token = data.get("NextToken")
    if token is not None:
        seq, when = _decode_token(token, req.fingerprint())
        req = LookupRequest(attribute, start, end, max_results, seq, when, category)
    return req


def lookup(store: EventStore, account_id: str, region: str, req: LookupRequest) -> dict[str, Any]:
    """The LookupEvents response body for one account and Region."""
    if req.category == "insight":
        return {"Events": []}
    page: list[Event] = []
    more = False
    for event in store.newest_first(account_id, region):
        # Resume strictly after the last event of the previous page, in (time, seq) order.
        if (
            req.after_seq is not None
            and req.after_time is not None
            and (event.time, event.seq) >= (req.after_time, req.after_seq)
        ):
            continue
        if req.end and event.time > req.end:
            continue
        if req.start and event.time < req.start:
            # Newest first: every later event is older still.
            break
        if req.attribute and not event.matches(*req.attribute):
            continue
        if len(page) == req.max_results:
            more = True
            break
        page.append(event)
    out: dict[str, Any] = {"Events": [_event_json(e) for e in page]}
    if more:
        last = page[-1]
        out["NextToken"] = _encode_token(last.seq, last.time, req.fingerprint())
    return out


def json_body(response: dict[str, Any]) -> bytes:
    return json.dumps(response, separators=(",", ":")).encode()


def _event_json(e: Event) -> dict[str, Any]:
    item: dict[str, Any] = {
        "EventId": e.event_id,
        "EventName": e.name,
        "ReadOnly": str(e.read_only).lower(),
        "EventTime": int(e.time.timestamp()),
        "EventSource": e.source,
        "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in e.resources],
        "CloudTrailEvent": e.cloudtrail_event,
    }
    if e.access_key_id:
        item["AccessKeyId"] = e.access_key_id
    if e.username:
        item["Username"] = e.username
    return item


def _attribute(raw: Any) -> tuple[str, str] | None:
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list) or len(raw) != 1:
        raise LookupError_(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        )
    item = raw[0]
    key = item.get("AttributeKey") if isinstance(item, dict) else None
    value = item.get("AttributeValue") if isinstance(item, dict) else None
    if key not in ATTRIBUTE_KEYS:
        raise LookupError_(
            "InvalidLookupAttributesException",
            f"Invalid attribute key: {key}. Valid keys: {', '.join(ATTRIBUTE_KEYS)}.",
        )
    if not isinstance(value, str) or not value:
        raise LookupError_(
            "InvalidLookupAttributesException",
            f"AttributeValue for {key} must be a non-empty string.",
        )
    return key, value


def _time(raw: Any, name: str) -> datetime | None:
    """A request time truncated to its whole second, the resolution of event times."""
    if raw is None:
        return None
    try:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return datetime.fromtimestamp(math.floor(raw), UTC)
        if isinstance(raw, str):
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).replace(microsecond=0)
    except (ValueError, OverflowError, OSError):
        pass
    raise LookupError_("InvalidTimeRangeException", f"{name} is not a valid timestamp.")


def _encode_token(seq: int, when: datetime, fingerprint: str) -> str:
    # Event times are whole seconds (as in CloudTrail), so the time survives as an int.
    raw = json.dumps({"s": seq, "t": int(when.timestamp()), "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: Any, fingerprint: str) -> tuple[int, datetime]:
    invalid = LookupError_(
        "InvalidNextTokenException",
        "Invalid NextToken, or the token was used with different parameters.",
    )
    if not isinstance(token, str):
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        seq, stamp, fp = int(data["s"]), int(data["t"]), str(data["f"])
        when = datetime.fromtimestamp(stamp, UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError, binascii.Error) as err:
        raise invalid from err
    if fp != fingerprint:
        raise invalid
    return seq, when
