"""Just-in-time access: a group membership that ends by itself.

Boundary has no expiring memberships (neither has the sandbox's emulator), so the SDK does it
with Boundary's own API, which makes it work unchanged against real Boundary:

1. ``POST /v1/groups/<id>:add-members`` now, and a record of the expiry in Vault
   (:mod:`soa_sdk.access.store`), so that every process knows about it;
2. at expiry, ``POST /v1/groups/<id>:remove-members`` and ``POST /v1/sessions/<id>:cancel`` for
   the user's open sessions to the targets the group opened (Boundary then closes the proxied
   connections and revokes the sessions' Vault leases).

Step 2 runs from a background timer in the process that granted, *and* from :meth:`expire`,
an idempotent sweep every :class:`~soa_sdk.access.Access` call runs first, so an expiry is
enforced even when the granting process has gone. Between the expiry and the next sweep (or the
timer) real Boundary would still honour the membership: keep a sweep running (cron, a Lambda)
in production, or use a Boundary Enterprise/HCP feature that does this.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.errors import BoundaryError
from soa_sdk.access.store import AccessStore
from soa_sdk.access.values import Grant

OPEN_STATES = ("pending", "active")


class JustInTime:
    """Grants, their timers and the expiry sweep."""

    def __init__(
        self,
        store: AccessStore,
        admin: Callable[[], BoundaryApi],
        targets_of_group: Callable[[str], list[str]],
        progress: Callable[[str], None],
    ) -> None:
        self.store = store
        self._admin = admin
        self._targets_of_group = targets_of_group  # group name -> target ids
        self.progress = progress
        self._lock = threading.RLock()
        self._timers: dict[tuple[str, str], threading.Timer] = {}

    # --- records ---------------------------------------------------------------------------------

    def all(self) -> list[Grant]:
        """Every recorded grant, live or expired-but-not-yet-swept."""
        out = []
        for key in self.store.keys("grants"):
            data = self.store.read(key)
            if data:
                out.append(Grant.from_record(data))
        return sorted(out, key=lambda g: g.expires_at)

    def add(self, grant: Grant) -> Grant:
        """Add the member now, record the expiry and start the timer."""
        admin = self._admin()
        with self._lock:
            group = admin.read("groups", grant.group_id, f"read group {grant.group!r}")
            if grant.user_id not in (group.get("member_ids") or []):
                admin.action(
                    "groups",
                    group,
                    "add-members",
                    {"member_ids": [grant.user_id]},
                    f"add {grant.user!r} to {grant.group!r}",
                )
            previous = self.store.read(_path(grant.user, grant.group))
            if previous:  # a second grant extends, never shortens
                expires = max(grant.expires_at, float(previous["expires_at"]))
                grant = Grant(**{**grant.__dict__, "expires_at": expires})
            self.store.write(_path(grant.user, grant.group), grant.to_record())
            self._schedule(grant)
        return grant

    def _schedule(self, grant: Grant) -> None:
        key = (grant.user, grant.group)
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        # A little after the expiry, so that the sweep sees the grant as expired.
        timer = threading.Timer(grant.seconds_left + 0.05, self._timer_fired)
        timer.daemon = True
        timer.name = f"soa-lab-grant-{grant.user}-{grant.group}"
        self._timers[key] = timer
        timer.start()

    def _timer_fired(self) -> None:
        try:
            for grant in self.expire():
                self.progress(f"grant of {grant.group} to {grant.user} expired and was removed")
        except Exception as error:  # a timer has nobody to raise to; the next sweep retries
            self.progress(
                f"expiry sweep failed ({type(error).__name__}); it runs again with the next call"
            )

    # --- expiry ----------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> list[Grant]:
        """End every grant whose time is up: remove the membership, cancel the user's open
        sessions the group opened, forget the record. Safe to run any time, from anywhere."""
        now = time.time() if now is None else now
        with self._lock:
            grants = self.all()
            expired = [g for g in grants if g.expires_at <= now]
            live = [g for g in grants if g.expires_at > now]
            for grant in expired:
                self._end(grant, live)
            return expired

    def end_now(self, user: str, group: str | None = None) -> list[Grant]:
        """End ``user``'s grants (of ``group`` only, if given) now, as if they expired."""
        with self._lock:
            grants = self.all()
            ending = [g for g in grants if g.user == user and group in (None, g.group)]
            live = [g for g in grants if g not in ending and not g.expired]
            for grant in ending:
                self._end(grant, live)
            return ending

    def _end(self, grant: Grant, live: list[Grant]) -> None:
        admin = self._admin()
        try:
            group = admin.read("groups", grant.group_id, f"read group {grant.group!r}")
        except BoundaryError as error:
            if error.status != 404:
                raise
            group = None  # the group is gone (teardown): nothing to remove
        if group is not None and grant.user_id in (group.get("member_ids") or []):
            admin.action(
                "groups",
                group,
                "remove-members",
                {"member_ids": [grant.user_id]},
                f"remove {grant.user!r} from {grant.group!r}",
            )
        still_open = {
            t for g in live if g.user == grant.user for t in self._targets_of_group(g.group)
        }
        closing = set(self._targets_of_group(grant.group)) - still_open
        for session in self.open_sessions(grant.user_id, closing):
            cancel_session(admin, session)
        self.store.delete(_path(grant.user, grant.group))
        timer = self._timers.pop((grant.user, grant.group), None)
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()

    def open_sessions(self, user_id: str, target_ids: set[str]) -> list[dict]:
        """The user's pending or active sessions to these targets (read as the admin)."""
        if not target_ids:
            return []
        admin = self._admin()
        scopes = set()
        for target_id in target_ids:
            try:
                scopes.add(admin.read("targets", target_id, "read a target")["scope_id"])
            except BoundaryError as error:
                if error.status != 404:  # a deleted target has no open sessions left
                    raise
        sessions = []
        for scope in sorted(scopes):
            for s in admin.list("sessions", "list the open sessions", scope_id=scope):
                if (
                    s.get("user_id") == user_id
                    and s.get("target_id") in target_ids
                    and s.get("status") in OPEN_STATES
                ):
                    sessions.append(s)
        return sessions

    def cancel_timers(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()


def cancel_session(admin: BoundaryApi, session: dict) -> dict:
    """``POST /v1/sessions/<id>:cancel`` unless it is already ending; returns the session."""
    if session.get("status") in ("canceling", "terminated"):
        return session
    try:
        return admin.action("sessions", session, "cancel", {}, f"cancel session {session['id']}")
    except BoundaryError as error:
        # Ended between our read and the cancel (its version moved on): that is what we want.
        current = admin.read("sessions", session["id"], f"read session {session['id']}")
        if current.get("status") in ("canceling", "terminated"):
            return current
        raise error from None


def _path(user: str, group: str) -> str:
    return f"grants/{user}/{group}"
