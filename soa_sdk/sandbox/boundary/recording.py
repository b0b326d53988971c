"""Session recordings: the document the proxy writes, where it is stored, and its replay.

Real Boundary records SSH sessions only, into BSR files in a storage bucket, through its
workers. The sandbox records any TCP target (a sandbox extension) into one JSON-lines document:

* line 1, the header: ``{"format": "soa-lab-session-recording", "version": 1, "session_id",
  "session_recording_id", "target_id", "user_id", "endpoint", "start_time"}``
* then one line per event, in time order: ``{"connection_id": "cr_...", "time": RFC 3339,
  "offset": seconds since start, "event": "open" | "data" | "close", "direction": "up" |
  "down", "data": base64}``. ``up`` is client to server (Boundary's ``bytes_up``).

:func:`postgres_statements` replays the ``up`` stream of each connection through the
PostgreSQL frontend protocol (startup message, ``Q`` simple query, ``P`` parse) and returns the
statements the user sent, in order, with their times.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMAT = "soa-lab-session-recording"
MIME_TYPE = "application/x-ndjson"


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Recorder:
    """Collects the events of one session's connections; thread-safe."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.start = time.time()
        self.header = {"format": FORMAT, "version": 1, **header, "start_time": rfc3339(self.start)}
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections: dict[str, dict[str, Any]] = {}

    def event(self, connection_id: str, event: str, direction: str = "", data: bytes = b"") -> None:
        now = time.time()
        entry: dict[str, Any] = {
            "connection_id": connection_id,
            "time": rfc3339(now),
            "offset": round(now - self.start, 6),
            "event": event,
        }
        if direction:
            entry["direction"] = direction
        if data:
            entry["data"] = base64.b64encode(data).decode()
        with self._lock:
            self._events.append(entry)
            conn = self.connections.setdefault(
                connection_id, {"start": now, "end": now, "up": 0, "down": 0}
            )
            conn["end"] = now
            if direction == "up":
                self.bytes_up += len(data)
                conn["up"] += len(data)
            elif direction == "down":
                self.bytes_down += len(data)
                conn["down"] += len(data)

    def document(self) -> bytes:
        with self._lock:
            lines = [json.dumps(self.header)] + [json.dumps(e) for e in self._events]
        return ("\n".join(lines) + "\n").encode()


def parse_document(document: bytes | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, events) of a recording document."""
    text = document.decode() if isinstance(document, bytes) else document
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not lines or lines[0].get("format") != FORMAT:
        raise ValueError("not a soa-lab session recording")
    return lines[0], lines[1:]


@dataclass(frozen=True)
class Statement:
    """One statement a client sent: its time, connection and the protocol message kind."""

    time: str
    offset: float
    connection_id: str
    kind: str  # "query" (simple query 'Q') or "parse" (extended query 'P')
    sql: str


def _cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.index(b"\0", pos)
    return buf[pos:end].decode("utf-8", "replace"), end + 1


def postgres_statements(document: bytes | str) -> list[Statement]:
    """The SQL the client sent over each recorded connection, in order.

    Reads the frontend protocol: the untyped startup packet (or SSLRequest/GSSENCRequest,
    which the server refuses with one byte before the real startup), then typed messages
    ``Byte1 type, Int32 length``. Only ``Q`` and ``P`` carry SQL; other messages are skipped.
    """
    _, events = parse_document(document)
    buffers: dict[str, bytearray] = {}
    started: dict[str, bool] = {}
    out: list[Statement] = []
    for ev in events:
        if ev.get("event") != "data" or ev.get("direction") != "up":
            continue
        cid = ev["connection_id"]
        buf = buffers.setdefault(cid, bytearray())
        buf.extend(base64.b64decode(ev["data"]))
        while True:
            if not started.get(cid):
                if len(buf) < 8:
                    break
                (length,) = struct.unpack("!I", buf[:4])
                if len(buf) < length:
                    break
                (code,) = struct.unpack("!I", buf[4:8])
                # 80877103 SSLRequest, 80877104 GSSENCRequest, 80877102 CancelRequest
                if code not in (80877103, 80877104, 80877102):
                    started[cid] = True
                del buf[:length]
                continue
            if len(buf) < 5:
                break
            kind = chr(buf[0])
            (length,) = struct.unpack("!I", buf[1:5])
            if len(buf) < 1 + length:
                break
            body = bytes(buf[5 : 1 + length])
            del buf[: 1 + length]
            if kind == "Q":
                sql, _ = _cstring(body, 0)
                out.append(Statement(ev["time"], ev["offset"], cid, "query", sql))
            elif kind == "P":
                _, pos = _cstring(body, 0)  # prepared statement name
                sql, _ = _cstring(body, pos)
                out.append(Statement(ev["time"], ev["offset"], cid, "parse", sql))
    return out


class S3RecordingStore:
    """Writes and reads recording documents in S3 (moto in the sandbox) with boto3."""

    def __init__(
        self,
        endpoint_url: str,
        region: str = "us-east-1",
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
    ) -> None:
        """Keys not given come from boto3's own chain (``AWS_ACCESS_KEY_ID``... in the
        environment, as a Boundary worker's AWS plugin reads them); the sandbox's S3 accepts
        only keys it issued."""
        import boto3  # imported here: the emulator runs without S3 when not asked for it

        self.endpoint_url = endpoint_url
        self._s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
        )

    def check_bucket(self, bucket: str) -> None:
        self._s3.head_bucket(Bucket=bucket)

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=MIME_TYPE)

    def get(self, bucket: str, key: str) -> bytes:
        return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
