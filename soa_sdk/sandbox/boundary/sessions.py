"""Sessions through a target, their proxied connections, and their recordings.

A session is authorized on a target (brokered credentials come from Vault, called without
the lock held), opened by the proxy with its authorization token, and terminated when
canceled, expired or used up; then its Vault leases are revoked and its recording is stored
in the target's storage bucket (S3).

Not implemented: workers (the sandbox's proxy stands in for them), SSH and RDP sessions,
recording export and storage policies (``:export``, ``:reapply-storage-policy``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from . import brokering
from .credentials import CredentialLibrary, CredentialStore
from .crud import Crud
from .exceptions import FailedPrecondition, Internal, InvalidArgument, Unauthenticated
from .recording import MIME_TYPE, Recorder, S3RecordingStore, rfc3339
from .records import Caller, Resource, new_id, now, prune, ref
from .storage import StorageBucket, recordings_hold
from .store import Store

SessionHook = Callable[[str, str], None]
#: a session keeps the ids of what it came from, as history
_Kept = Annotated[str, ref("target", "user", "auth-token", "host", "host-set",
                           "session-recording", on_delete="keep")]  # fmt: skip


@dataclass(kw_only=True)
class SessionRecording(Resource):
    TYPE = "session-recording"
    PREFIX = "sr"
    COLLECTION = "session-recordings"
    NAME = "Session recording"
    SCOPES = ("global", "org")
    VERSIONED = False
    ID_ACTIONS = ("no-op", "read", "download")
    session_id: Annotated[str, ref("session", on_delete="keep")]
    storage_bucket_id: Annotated[str, ref("storage-bucket", on_delete="restrict",
                                          refuse=recordings_hold)]  # fmt: skip
    endpoint: str
    values: dict[str, Any] = field(default_factory=dict)
    state: str = "started"
    error_details: str = ""
    bytes_up: int = 0
    bytes_down: int = 0
    start: float = field(default_factory=now)
    end: float = 0.0
    connections: list[dict[str, Any]] = field(default_factory=list)

    def fields(self, store: Store) -> dict[str, Any]:
        end = self.end or now()
        return {
            "session_id": self.session_id,
            "storage_bucket_id": self.storage_bucket_id,
            "bytes_up": str(self.bytes_up),
            "bytes_down": str(self.bytes_down),
            "start_time": rfc3339(self.start),
            "end_time": rfc3339(self.end) if self.end else "",
            "duration": f"{end - self.start:.6f}s",
            "type": "tcp",
            "state": self.state,
            "error_details": self.error_details,
            "mime_types": [MIME_TYPE],
            "endpoint": self.endpoint,
            "connection_recordings": [dict(c) for c in self.connections],
            "create_time_values": dict(self.values),
        }


@dataclass(kw_only=True)
class Session(Resource):
    TYPE = "session"
    PREFIX = "s"
    COLLECTION = "sessions"
    NAME = "Session"
    SCOPES = ("project",)
    OWNED = True
    ID_ACTIONS = ("no-op", "read", "read:self", "cancel", "cancel:self")
    target_id: _Kept
    user_id: _Kept
    auth_token_id: _Kept
    endpoint: str
    host: str
    port: int
    expiration: float
    connection_limit: int
    host_set_id: _Kept = ""
    host_id: _Kept = ""
    authorization_token: str = field(repr=False, default="")
    states: list[dict[str, Any]] = field(default_factory=list)
    termination_reason: str = ""
    connections: list[dict[str, Any]] = field(default_factory=list)
    leases: list[tuple[str, str]] = field(default_factory=list)  # (store id, lease id)
    recording_id: _Kept = ""

    @property
    def status(self) -> str:
        return self.states[0]["status"]

    def listed(self, params: dict[str, str]) -> bool:
        """Terminated sessions are listed only with ``include_terminated=true``."""
        return self.status != "terminated" or (
            params.get("include_terminated", "").lower() == "true"
        )

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "target_id": self.target_id,
            "type": "tcp",
            "expiration_time": rfc3339(self.expiration),
            "auth_token_id": self.auth_token_id,
            "user_id": self.user_id,
            "host_set_id": self.host_set_id,
            "host_id": self.host_id,
            "endpoint": self.endpoint,
            "status": self.status,
            "states": [
                {
                    "status": st["status"],
                    "start_time": rfc3339(st["start"]),
                    "end_time": rfc3339(st["end"]) if st["end"] else "",
                }
                for st in self.states
            ],
            "termination_reason": self.termination_reason,
            "connections": [dict(c) for c in self.connections],
        }

    def set_status(self, status: str) -> None:
        """A new state; the write it happens in stamps the version."""
        t = now()
        if self.states:
            self.states[0]["end"] = t
        self.states.insert(0, {"status": status, "start": t, "end": 0.0})


class SessionOps(Crud):
    recording_store: S3RecordingStore | None
    vault_verify_tls: bool
    session_end_hooks: list[SessionHook]
    tokens_by_authz: dict[str, str]
    recordings: dict[str, bytes]

    def authorize_session(self, target_id: str, body: dict, caller: Caller) -> dict:
        """POST /v1/targets/{id}:authorize-session: a pending session, brokered credentials
        from Vault, and the authorization token the proxy accepts."""
        host_id = body.get("host_id") or ""
        with self.lock:
            target = self._get("targets", target_id)
            self.authorize(caller, self.ref(target), "authorize-session")
            host_set_id, endpoint_host = "", target.address
            if not target.address:
                candidates = [(hs_id, h) for hs_id in target.host_source_ids
                              for h in self.resources[hs_id].host_ids
                              if not host_id or h == host_id]  # fmt: skip
                if not candidates:
                    raise FailedPrecondition(
                        "No host sources or address found for given target.")  # fmt: skip
                host_set_id, host_id = secrets.choice(candidates)
                endpoint_host = self.resources[host_id].address
            host, _, port_text = endpoint_host.rpartition(":")
            if not host or not port_text.isdigit():
                host, port = endpoint_host, target.default_port
            else:
                port = int(port_text)
            if not port:
                raise FailedPrecondition("Target has no default port and its address no port.")
            libs = [self.resources[c] for c in target.brokered_credential_source_ids]
            stores = {lib.id: self.resources[lib.credential_store_id] for lib in libs}
            recording_bucket = self.resources.get(target.storage_bucket_id)
            if target.enable_session_recording and not isinstance(recording_bucket, StorageBucket):
                # Boundary's schema never lets this happen (see storage.py); should
                # it, no session may start unrecorded.
                raise FailedPrecondition(
                    "session recording enabled without storage bucket: the target's storage"
                    " bucket does not exist."
                )
            user_res = self.resources.get(caller.user_id)
        # Vault is called without the lock held: it may be slow and the proxy must not wait.
        issued: list[tuple[CredentialLibrary, CredentialStore, brokering.VaultSecret]] = []
        try:
            for lib in libs:
                store = stores[lib.id]
                secret = brokering.issue(
                    store.address, store.token, lib.path, namespace=store.namespace,
                    http_method=lib.http_method, http_request_body=lib.http_request_body,
                    verify=self.vault_verify_tls and not store.tls_skip_verify,
                )  # fmt: skip
                issued.append((lib, store, secret))
        except brokering.VaultError as err:
            self._revoke([(s.id, sec.lease_id) for _, s, sec in issued])
            raise Internal(f"Unable to retrieve credentials for session: {err}") from None
        with self.lock:
            sess = Session(
                id=new_id("s"), scope_id=target.scope_id, target_id=target.id,
                user_id=caller.user_id, auth_token_id=caller.token_id,
                endpoint=f"tcp://{host}:{port}", host=host, port=port,
                expiration=now() + target.session_max_seconds,
                connection_limit=target.session_connection_limit,
                host_set_id=host_set_id, host_id=host_id,
                authorization_token=secrets.token_urlsafe(48),
                leases=[(s.id, sec.lease_id) for _, s, sec in issued if sec.lease_id],
            )  # fmt: skip
            sess.set_status("pending")
            if target.enable_session_recording and isinstance(recording_bucket, StorageBucket):
                rec = SessionRecording(
                    id=new_id("sr"), scope_id=recording_bucket.scope_id, session_id=sess.id,
                    storage_bucket_id=recording_bucket.id, endpoint=sess.endpoint,
                    values={
                        "user": {"id": caller.user_id,
                                 "name": getattr(user_res, "name", ""),
                                 "scope": self.scope_info(self.scope_of(caller.user_id))},
                        "target": {"id": target.id, "name": target.name, "type": "tcp",
                                   "scope": self.scope_info(target.scope_id),
                                   "session_max_seconds": target.session_max_seconds,
                                   "session_connection_limit":
                                       target.session_connection_limit},
                    },
                )  # fmt: skip
                sess.recording_id = rec.id
                with self.store.write() as w:
                    w.put(rec)
            with self.store.write() as w:
                w.put(sess)
            self.tokens_by_authz[sess.authorization_token] = sess.id
            credentials = []
            for lib, store, secret in issued:
                cred: dict[str, Any] = {
                    "credential_source": {
                        "id": lib.id, "name": lib.name, "description": lib.description,
                        "credential_store_id": store.id, "type": "vault-generic",
                        "credential_type": lib.credential_type,
                    },
                    "secret": {"raw": secret.raw, "decoded": secret.data},
                }  # fmt: skip
                if lib.credential_type == "username_password":
                    cred["credential"] = {k: secret.data.get(k) for k in ("username", "password")}
                credentials.append(prune(cred))
            item = {
                "session_id": sess.id,
                "target_id": target.id,
                "scope": self.scope_info(target.scope_id),
                "created_time": rfc3339(sess.created),
                "user_id": caller.user_id,
                "host_set_id": host_set_id,
                "host_id": host_id,
                "type": "tcp",
                "authorization_token": sess.authorization_token,
                "connection_limit": sess.connection_limit,
                "endpoint": sess.endpoint,
                "endpoint_port": port,
                "expiration": rfc3339(sess.expiration),
                "credentials": credentials,
                "session_recording_id": sess.recording_id,
            }
            return prune(item) | {"credentials": credentials}

    def cancel_session(self, session_id: str, body: dict, caller: Caller) -> dict:
        """POST /v1/sessions/{id}:cancel with ``version``. The proxy closes the session's
        live connections at once; the answer shows the ``canceling`` state Boundary reports."""
        with self.lock:
            sess = self._get("sessions", session_id)
            self.authorize(caller, self.ref(sess), "cancel")
            if not body.get("version"):
                raise InvalidArgument(request_fields={"version": "Required field."})
            if body["version"] != sess.version:
                raise Internal("Unable to cancel session: session version mismatch.")
            if sess.status in ("canceling", "terminated"):
                return self.serialize(sess, caller)
            with self.store.write() as w:
                sess.set_status("canceling")
                w.touch(sess)
            answer = self.serialize(sess, caller)
        self.end_session(session_id, "canceled")
        return answer

    def end_session(self, session_id: str, reason: str) -> None:
        """Close the session's connections (via the proxy hooks) and terminate it."""
        for hook in list(self.session_end_hooks):
            hook(session_id, reason)
        self.terminate_session(session_id, reason, None)

    def session_for_authorization(self, authorization_token: str) -> Session:
        """The live session an authorization token opens (for the proxy)."""
        with self.lock:
            self._expire_sessions()
            sess = self.resources.get(self.tokens_by_authz.get(authorization_token, ""))
            if not isinstance(sess, Session):
                raise Unauthenticated("Unknown session authorization token.")
            if sess.status in ("canceling", "terminated"):
                raise FailedPrecondition(f"Session {sess.id} is {sess.status}.")
            return sess

    def connection_opened(self, session_id: str, info: dict[str, Any]) -> int:
        """Record a proxied connection; return its index. Raises when over the limit."""
        with self.lock:
            sess = self._get("sessions", session_id)
            if sess.status not in ("pending", "active") or sess.expiration <= now():
                raise FailedPrecondition(f"Session {session_id} is not active.")
            if 0 < sess.connection_limit <= len(sess.connections):
                raise FailedPrecondition("Connection limit reached.")
            if sess.status == "pending":
                with self.store.write() as w:
                    sess.set_status("active")
                    w.touch(sess)
            sess.connections.append({**info, "bytes_up": "0", "bytes_down": "0"})
            return len(sess.connections) - 1

    def connection_closed(self, session_id: str, index: int, up: int, down: int,
                          reason: str) -> bool:  # fmt: skip
        """Record a closed connection; True when the session has no connections left to
        make (its limit is used up), so that it should end."""
        with self.lock:
            sess = self.resources.get(session_id)
            if not isinstance(sess, Session):
                return False
            conn = sess.connections[index]
            conn.update(bytes_up=str(up), bytes_down=str(down), closed_reason=reason)
            return 0 < sess.connection_limit <= len(sess.connections) and all(
                c.get("closed_reason") for c in sess.connections
            )

    def terminate_session(self, session_id: str, reason: str, recording: Any) -> None:
        """Terminate, revoke the session's Vault leases and store its recording (if any).
        ``recording`` is a :class:`~.recording.Recorder` or None."""
        with self.lock:
            sess = self.resources.get(session_id)
            if not isinstance(sess, Session) or sess.status == "terminated":
                return
            with self.store.write() as w:
                sess.set_status("terminated")
                sess.termination_reason = reason
                w.touch(sess)
            self.tokens_by_authz.pop(sess.authorization_token, None)
            leases = list(sess.leases)
            rec = self.resources.get(sess.recording_id)
        self._revoke(leases)
        if isinstance(rec, SessionRecording):
            self._store_recording(rec, recording)

    def _revoke(self, leases: list[tuple[str, str]]) -> None:
        for store_id, lease_id in leases:
            store = self.resources.get(store_id)
            if isinstance(store, CredentialStore) and lease_id:
                try:
                    brokering.revoke(store.address, store.token, lease_id, store.namespace,
                                     verify=not store.tls_skip_verify)  # fmt: skip
                except brokering.VaultError:
                    pass  # the lease expires on its own; Boundary also only logs this

    def _store_recording(self, rec: SessionRecording, recorder: Any) -> None:
        if recorder is None:
            recorder = Recorder({"session_id": rec.session_id, "session_recording_id": rec.id})
        document = recorder.document()
        with self.lock:
            bucket = self.resources.get(rec.storage_bucket_id)
        try:
            if self.recording_store is None or not isinstance(bucket, StorageBucket):
                raise RuntimeError("no storage bucket")
            self.recording_store.put(bucket.bucket_name, bucket.key_for(rec.id), document)
            state, error = "available", ""
        except Exception as err:  # keep the document in memory and say why S3 failed
            self.recordings[rec.id] = document
            state, error = "unknown", f"storing in S3 failed: {type(err).__name__}"
        with self.store.write() as w:
            rec.state, rec.error_details = state, error
            rec.bytes_up, rec.bytes_down = recorder.bytes_up, recorder.bytes_down
            rec.end = now()
            rec.connections = [
                {"id": new_id("cr"), "bytes_up": str(c["up"]), "bytes_down": str(c["down"]),
                 "start_time": rfc3339(c["start"]), "end_time": rfc3339(c["end"]),
                 "duration": f"{c['end'] - c['start']:.6f}s", "mime_types": [MIME_TYPE]}
                for c in recorder.connections.values()
            ]  # fmt: skip
            w.touch(rec)

    def _expire_sessions(self) -> None:
        expired = [s.id for s in self.of_type(Session)
                   if s.status != "terminated" and s.expiration <= now()]  # fmt: skip
        for sid in expired:
            # Only the bookkeeping here; the proxy's own timer closes sockets.
            threading.Thread(target=self.end_session, args=(sid, "timed out"), daemon=True).start()

    def download_recording(self, recording_id: str, caller: Caller) -> tuple[bytes, str]:
        """GET /v1/session-recordings/{id}:download: the recording document and mime type."""
        with self.lock:
            rec = self._get("session-recordings", recording_id)
            self.authorize(caller, self.ref(rec), "download")
            if rec.state == "started":
                raise FailedPrecondition("The session recording is still in progress.")
            bucket = self.resources.get(rec.storage_bucket_id)
            if rec.id in self.recordings:
                return self.recordings[rec.id], MIME_TYPE
        assert isinstance(bucket, StorageBucket) and self.recording_store is not None
        return self.recording_store.get(bucket.bucket_name, bucket.key_for(rec.id)), MIME_TYPE
