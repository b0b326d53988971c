"""Workload access logs in CloudWatch Logs, and searching them.

Real API: CloudWatch Logs ``CreateLogGroup``, ``CreateLogStream``, ``PutLogEvents`` and
``FilterLogEvents``. Each runtime has a log group ``/soa-lab/<runtime>/workloads`` in its own
account, each workload instance a stream named after its Consul service ID, and every
request it served one event, in the key=value form of an access log::

    method=GET path=/ code=200 latency_ms=1.27 source=store upstream=inventory version=v1

In production the ECS ``awslogs`` driver (or Fluent Bit on EKS) ships the same lines from
the Envoy sidecar's access log. Requests the mesh could not route to any instance were
served by no workload and have no log line (they are counted as errors in the metrics).

Search with CloudWatch filter patterns: terms (``code=500``, all must appear) and quoted
phrases. The sandbox's CloudWatch Logs (moto) matches only those two; JSON and space-
delimited patterns (``{ $.code = 500 }``, ``[ip, ...]``) would match every event there, so
:func:`search` refuses them in the sandbox rather than answer wrongly.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from soa_sdk import validate
from soa_sdk.errors import ValidationError
from soa_sdk.tables import Table

RETENTION_DAYS = 7
MAX_BATCH_EVENTS = 10_000  # PutLogEvents: at most 10,000 events and 1,048,576 bytes per call
MAX_BATCH_BYTES = 1_000_000
EVENT_OVERHEAD = 26  # bytes PutLogEvents counts per event on top of the message


def group_name(runtime: str) -> str:
    return f"/soa-lab/{runtime}/workloads"


def line(record: dict[str, Any]) -> str:
    """The access-log line of one served request."""
    return (
        f"method={record.get('method', '')} path={record.get('path', '')} "
        f"code={record['code']} latency_ms={record['latency_ms']} "
        f"source={record.get('source', '')} upstream={record.get('upstream', '')} "
        f"version={record.get('version', '')} service={record['destination']}"
    )


def publish(logs: Any, runtime: str, records: list[dict[str, Any]]) -> int:
    """Write one event per served request into the runtime's group; returns events written."""
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("instance"):
            streams[record["instance"]].append(
                {"timestamp": int(record["time"] * 1000), "message": line(record)}
            )
    if not streams:
        return 0
    group = group_name(runtime)
    _ensure(logs.create_log_group, logs, logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=RETENTION_DAYS)
    written = 0
    for stream, events in streams.items():
        _ensure(logs.create_log_stream, logs, logGroupName=group, logStreamName=stream)
        events.sort(key=lambda e: e["timestamp"])  # PutLogEvents wants them in order
        for batch in _batches(events):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            written += len(batch)
    return written


def _ensure(create: Any, logs: Any, **kwargs: Any) -> None:
    try:
        create(**kwargs)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        cost = len(event["message"].encode()) + EVENT_OVERHEAD
        if len(batches[-1]) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += cost
    return batches


def check_pattern(pattern: str, sandbox: bool) -> str:
    pattern = validate.text(pattern, "pattern", empty=True).strip()
    if sandbox and pattern[:1] in ("{", "["):
        raise ValidationError(
            "The sandbox's CloudWatch Logs matches terms and quoted phrases only (e.g. "
            "'code=500' or '\"path=/ code=200\"'); JSON and space-delimited patterns work on AWS."
        )
    return pattern


def search(
    logs: Any,
    runtime: str,
    pattern: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> Table:
    """``FilterLogEvents`` over the runtime's group (every stream), oldest first."""
    kwargs: dict[str, Any] = {"logGroupName": group_name(runtime), "interleaved": True}
    if pattern:
        kwargs["filterPattern"] = pattern
    if start is not None:
        kwargs["startTime"] = int(start.timestamp() * 1000)
    if end is not None:
        kwargs["endTime"] = int(end.timestamp() * 1000)
    rows: list[dict[str, Any]] = []
    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            **kwargs, PaginationConfig={"MaxItems": limit}
        )
        for page in pages:
            for event in page["events"]:
                rows.append(
                    {
                        "time": datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                        "stream": event["logStreamName"],
                        "message": event["message"],
                    }
                )
    except logs.exceptions.ResourceNotFoundException:
        pass  # nothing published for this runtime yet: no events
    title = f"CloudWatch Logs {group_name(runtime)}: {pattern or 'every event'}"
    return Table(rows[:limit], title=title)
