"""Durations as Vault writes them ("90s", "15m", "1h30m", or plain seconds), checked up front.

Vault accepts out-of-range TTLs and quietly caps them at the mount's or the system's maximum
(768h by default), answering with a warning the caller rarely reads. The lab rejects them
instead, before any call, so that what a learner asks for is what they get.
"""

from __future__ import annotations

import re
from datetime import timedelta

from soa_sdk.vault.errors import InvalidTTLError

#: Vault's default ``max_lease_ttl`` for the system and for every mount (32 days).
VAULT_SYSTEM_MAX_TTL = 768 * 3600

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+[smhd])+")

Duration = int | str | timedelta


def seconds(value: Duration, what: str = "TTL") -> int:
    """Return ``value`` in whole seconds; raise :class:`InvalidTTLError` if it is not a duration."""
    if isinstance(value, bool):  # bool is an int; True seconds is a mistake
        raise InvalidTTLError(f"{what} must be a duration, not {value!r}")
    if isinstance(value, timedelta):
        total = value.total_seconds()
        if total != int(total):
            raise InvalidTTLError(f"{what} must be whole seconds, got {total}")
        return int(total)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if _DURATION.fullmatch(text):
            return sum(int(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"(\d+)([smhd])", text))
    raise InvalidTTLError(f"{what} {value!r} is not a duration such as 300, '90s', '15m' or '1h'")


def check_range(value: Duration, what: str, minimum: int, maximum: int) -> int:
    """Return ``value`` in seconds if ``minimum <= value <= maximum``, else raise."""
    total = seconds(value, what)
    if not minimum <= total <= maximum:
        raise InvalidTTLError(
            f"{what} of {total}s is out of range: it must be between {minimum}s and {maximum}s"
        )
    return total
