"""An auditor's side of step 4: the session recordings and their replay.

Boundary: ``GET /v1/session-recordings?scope_id=<org>&recursive=true`` and
``GET /v1/session-recordings/<id>:download``. Reading SQL out of a recording is the
sandbox's (its recordings are JSON lines of the PostgreSQL protocol; real Boundary records
SSH and RDP sessions, as BSR files, and does not parse SQL).
"""

from __future__ import annotations

from soa_sdk.access.client import BoundaryApi
from soa_sdk.access.context import Context
from soa_sdk.access.grants import JustInTime
from soa_sdk.access.values import UserToken
from soa_sdk.errors import ValidationError
from soa_sdk.tables import Table


class Recordings:
    """List and replay session recordings; see :class:`soa_sdk.access.Access`."""

    def __init__(self, ctx: Context, jit: JustInTime) -> None:
        self.ctx = ctx
        self.jit = jit

    def recordings(self, token: UserToken) -> Table:
        tok = self.ctx.token(token)
        self.jit.expire()
        api = BoundaryApi(self.ctx.url(), tok.token)
        items = api.list(
            "session-recordings",
            f"list session recordings as {tok.user}",
            scope_id=self.ctx.lookup().org_id,
            recursive="true",
        )
        rows = []
        for r in items:
            values = r.get("create_time_values") or {}
            rows.append(
                {
                    "id": r["id"],
                    "session": r.get("session_id", ""),
                    "user": (values.get("user") or {}).get("name", ""),
                    "target": (values.get("target") or {}).get("name", ""),
                    "state": r.get("state", ""),
                    "start": r.get("start_time", ""),
                    "duration": r.get("duration", ""),
                    "bytes_up": int(r.get("bytes_up") or 0),
                    "bytes_down": int(r.get("bytes_down") or 0),
                }
            )
        return Table(rows, f"Session recordings visible to {tok.user}")

    def replay(self, recording_id: str, token: UserToken) -> Table:
        controls = self.ctx.sandbox_controls(
            "Replaying a recording's SQL",
            "real Boundary records SSH and RDP sessions as BSR files (play them with "
            "`boundary session-recordings download`) and does not parse SQL.",
        )
        tok = self.ctx.token(token)
        if not isinstance(recording_id, str) or not recording_id.startswith("sr_"):
            raise ValidationError(f"{recording_id!r} is not a session recording id (sr_...).")
        self.jit.expire()
        document = BoundaryApi(self.ctx.url(), tok.token).request(
            "GET",
            f"/v1/session-recordings/{recording_id}:download",
            f"download recording {recording_id} as {tok.user}",
            raw=True,
        )
        rows = [
            {
                "time": s.time,
                "offset_s": round(s.offset, 3),
                "connection": s.connection_id,
                "kind": s.kind,
                "statement": s.sql,
            }
            for s in controls.postgres_statements(document)
        ]
        return Table(rows, f"Replay of {recording_id}")
