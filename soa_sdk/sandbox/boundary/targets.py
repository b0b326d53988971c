"""TCP targets: where a session goes, its host sources and brokered credential sources.

Not implemented: SSH and RDP targets, aliases, injected application credentials. Real
Boundary records SSH and RDP sessions only; the sandbox records TCP ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from .credentials import CredentialLibrary
from .crud import COMMON, Crud, check_fields, require_type, set_common, unknown_ids
from .exceptions import InvalidArgument
from .hosts import HostSet
from .records import Caller, Resource, new_id, ref
from .storage import StorageBucket, targets_record_to
from .store import Store

_TARGET_FIELDS = ("address", "session_max_seconds", "session_connection_limit",
                  "worker_filter", "egress_worker_filter", "ingress_worker_filter")  # fmt: skip
_TARGET_ATTRS = ("default_port", "default_client_port", "enable_session_recording",
                 "storage_bucket_id")  # fmt: skip


@dataclass(kw_only=True)
class Target(Resource):
    TYPE = "target"
    PREFIX = "ttcp"
    COLLECTION = "targets"
    NAME = "Target"
    SCOPES = ("project",)
    ID_ACTIONS = (
        "no-op", "read", "update", "delete", "add-host-sources", "set-host-sources",
        "remove-host-sources", "add-credential-sources", "set-credential-sources",
        "remove-credential-sources", "authorize-session",
    )  # fmt: skip
    address: str = ""
    default_port: int = 0
    default_client_port: int = 0
    session_max_seconds: int = 28800
    session_connection_limit: int = -1
    worker_filter: str = ""
    egress_worker_filter: str = ""
    ingress_worker_filter: str = ""
    host_source_ids: Annotated[list[str], ref("host-set", on_delete="remove")] = field(
        default_factory=list
    )
    brokered_credential_source_ids: Annotated[
        list[str], ref("credential-library", on_delete="remove")
    ] = field(default_factory=list)
    enable_session_recording: bool = False
    storage_bucket_id: Annotated[str, ref(
        "storage-bucket", on_delete="set null", restrict_if="enable_session_recording",
        refuse=targets_record_to,
    )] = ""  # fmt: skip

    def fields(self, store: Store) -> dict[str, Any]:
        sources = [store.resources.get(i) for i in self.host_source_ids]
        creds = [store.resources.get(i) for i in self.brokered_credential_source_ids]
        return {
            "scope_id": self.scope_id,
            "type": "tcp",
            "address": self.address,
            "session_max_seconds": self.session_max_seconds,
            "session_connection_limit": self.session_connection_limit,
            "worker_filter": self.worker_filter,
            "egress_worker_filter": self.egress_worker_filter,
            "ingress_worker_filter": self.ingress_worker_filter,
            "host_source_ids": list(self.host_source_ids),
            "host_sources": [
                {"id": h.id, "host_catalog_id": h.parent_id} for h in sources if h is not None
            ],
            "brokered_credential_source_ids": list(self.brokered_credential_source_ids),
            "brokered_credential_sources": [
                {"id": c.id, "credential_store_id": c.parent_id} for c in creds if c is not None
            ],
            "attributes": {
                "default_port": self.default_port,
                "default_client_port": self.default_client_port,
                "enable_session_recording": self.enable_session_recording,
                "storage_bucket_id": self.storage_bucket_id,
            },
        }


class TargetOps(Crud):
    def _build_target(self, body: dict[str, Any], scope_id: str) -> Target:
        check_fields(body, (*COMMON, *_TARGET_FIELDS), _TARGET_ATTRS)
        require_type(body, "tcp")
        if not body.get("name"):
            raise InvalidArgument(request_fields={"name": "This field is required."})
        target = Target(id=new_id("ttcp"), scope_id=scope_id)
        self._update_target(target, body)
        return target

    def _update_target(self, res: Target, body: dict[str, Any]) -> None:
        attrs = check_fields(body, (*COMMON, *_TARGET_FIELDS), _TARGET_ATTRS)
        set_common(res, body)
        bad = {}
        if "address" in body:
            if body["address"] and res.host_source_ids:
                bad["address"] = "Cannot set an address on a target with host sources."
            res.address = body["address"] or ""
        for k, default in (("session_max_seconds", 28800), ("session_connection_limit", -1)):
            if k in body:
                v = body[k] if body[k] is not None else default
                if not isinstance(v, int) or v == 0 or v < -1 or (
                        k == "session_max_seconds" and v < 1):  # fmt: skip
                    bad[k] = "This must be greater than zero." if k == "session_max_seconds" \
                        else "This must be -1 (unlimited) or greater than zero."  # fmt: skip
                else:
                    setattr(res, k, v)
        for k in ("worker_filter", "egress_worker_filter", "ingress_worker_filter"):
            if k in body:
                setattr(res, k, body[k] or "")
        for k in ("default_port", "default_client_port"):
            if k in attrs:
                v = attrs[k] or 0
                if not isinstance(v, int) or not 0 <= v <= 65535:
                    bad[f"attributes.{k}"] = "Must be a port number."
                else:
                    setattr(res, k, v)
        if "storage_bucket_id" in attrs:
            sb = attrs["storage_bucket_id"] or ""
            if sb and not isinstance(self.resources.get(sb), StorageBucket):
                bad["attributes.storage_bucket_id"] = "Unknown storage bucket."
            res.storage_bucket_id = sb
        if "enable_session_recording" in attrs:
            res.enable_session_recording = bool(attrs["enable_session_recording"])
        if res.enable_session_recording and not res.storage_bucket_id:
            bad["attributes.storage_bucket_id"] = (
                "This field is required when session recording is enabled."
            )
        if bad:
            raise InvalidArgument(request_fields=bad)

    def _in_project(self, resource_id: str, cls: type[Resource], scope_id: str) -> bool:
        res = self.resources.get(resource_id)
        return isinstance(res, cls) and res.scope_id == scope_id

    def change_target_host_sources(self, target_id: str, op: str, body: dict,
                                   caller: Caller) -> dict:  # fmt: skip
        """POST /v1/targets/{id}:add-host-sources | :set-host-sources | :remove-host-sources."""

        def host_sets(target: Target, given: list[str], op: str) -> None:
            unknown_ids("host_source_ids", "Unknown host sets in this project: {bad}.",
                        lambda h: self._in_project(h, HostSet, target.scope_id))(
                target, given, op)  # fmt: skip
            if given and op != "remove" and target.address:
                raise InvalidArgument(request_fields={"host_source_ids": (
                    "Cannot add host sources to a target with an address.")})  # fmt: skip

        return self.change_ids("targets", target_id, op, body, caller, thing="host-sources",
                               key="host_source_ids", check=host_sets)  # fmt: skip

    def change_target_credential_sources(self, target_id: str, op: str, body: dict,
                                         caller: Caller) -> dict:  # fmt: skip
        """POST /v1/targets/{id}:add-credential-sources | :set-... | :remove-...
        (brokered sources; injected application credentials are not implemented)."""

        def no_injected(body: dict[str, Any]) -> None:
            if body.get("injected_application_credential_source_ids"):
                raise InvalidArgument(request_fields={
                    "injected_application_credential_source_ids": (
                        "Injected application credentials are not supported on TCP targets."
                    )})  # fmt: skip

        def libraries(target: Target, given: list[str], op: str) -> None:
            unknown_ids("brokered_credential_source_ids",
                        "Unknown credential sources in this project: {bad}.",
                        lambda c: self._in_project(c, CredentialLibrary, target.scope_id))(
                target, given, op)  # fmt: skip

        return self.change_ids("targets", target_id, op, body, caller,
                               thing="credential-sources", key="brokered_credential_source_ids",
                               check=libraries, before=no_injected)  # fmt: skip
