"""Recorded events, per account, bounded, newest first.

Real CloudTrail event history keeps 90 days of management events per account and Region.
We keep the last `max_per_account` events of each account (all Regions together) in memory;
older events fall off. Nothing is persisted: a restarted sandbox starts with no history.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

DEFAULT_MAX_PER_ACCOUNT = 10_000


@dataclass(frozen=True)
class Event:
    """One recorded management event, with the fields LookupEvents filters and returns."""

    seq: int  # order of recording; ties in time are broken by it
    event_id: str
    account_id: str
    region: str
    time: datetime
    name: str
    source: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    resources: tuple[tuple[str, str], ...]
    cloudtrail_event: str  # the full record, as the JSON string LookupEvents returns

    def matches(self, key: str, value: str) -> bool:
        """Whether this event has `value` for the lookup attribute `key`."""
        if key == "EventId":
            return self.event_id == value
        if key == "EventName":
            return self.name == value
        if key == "ReadOnly":
            return str(self.read_only).lower() == value.lower()
        if key == "Username":
            return self.username == value
        if key == "EventSource":
            return self.source == value
        if key == "AccessKeyId":
            return self.access_key_id == value
        if key == "ResourceType":
            return any(t == value for t, _ in self.resources)
        if key == "ResourceName":
            return any(n == value for _, n in self.resources)
        return False


class EventStore:
    """Thread-safe, bounded, per-account event history."""

    def __init__(self, max_per_account: int = DEFAULT_MAX_PER_ACCOUNT) -> None:
        self.max_per_account = max_per_account
        self._lock = threading.Lock()
        self._events: dict[str, deque[Event]] = {}
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        with self._lock:
            return next(self._seq)

    def add(self, event: Event) -> None:
        with self._lock:
            history = self._events.get(event.account_id)
            if history is None:
                history = self._events[event.account_id] = deque(maxlen=self.max_per_account)
            history.append(event)

    def newest_first(self, account_id: str, region: str) -> Iterator[Event]:
        """A snapshot of one account's events in one Region, newest first."""
        with self._lock:
            snapshot = list(self._events.get(account_id, ()))
        # Appends happen in seq order but the recorded time is taken at the call's start;
        # sort so that "newest first" is by time, then by order of recording.
        snapshot.sort(key=lambda e: (e.time, e.seq), reverse=True)
        return (e for e in snapshot if e.region == region)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(d) for d in self._events.values())
