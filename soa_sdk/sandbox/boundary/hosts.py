"""Static host catalogs, their hosts and host sets (``controller.api.resources.hosts.v1``...).

Not implemented: plugin host catalogs (AWS, Azure, GCP) and their dynamic host sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from .crud import COMMON, Crud, check_common, check_fields, require_type, set_common, unknown_ids
from .exceptions import InvalidArgument
from .records import Caller, Resource, new_id, ref
from .store import Store

CatalogRef = Annotated[str, ref("host-catalog", on_delete="cascade")]


@dataclass(kw_only=True)
class HostCatalog(Resource):
    TYPE = "host-catalog"
    PREFIX = "hcst"
    COLLECTION = "host-catalogs"
    NAME = "Host catalog"
    SCOPES = ("project",)
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {"host-sets": "host-set", "hosts": "host"}

    def fields(self, store: Store) -> dict[str, Any]:
        return {"scope_id": self.scope_id, "type": "static"}


@dataclass(kw_only=True)
class Host(Resource):
    TYPE = "host"
    PREFIX = "hst"
    COLLECTION = "hosts"
    NAME = "Host"
    PARENT_FIELD = "host_catalog_id"
    PARENT_CLASS = HostCatalog
    host_catalog_id: CatalogRef
    address: str = ""

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "type": "static",
            "host_catalog_id": self.host_catalog_id,
            "host_set_ids": [r.id for r in store.holding(HostSet, "host_ids", self.id)],
            "attributes": {"address": self.address},
        }


@dataclass(kw_only=True)
class HostSet(Resource):
    TYPE = "host-set"
    PREFIX = "hsst"
    COLLECTION = "host-sets"
    NAME = "Host set"
    ID_ACTIONS = ("no-op", "read", "update", "delete", "add-hosts", "set-hosts", "remove-hosts")
    PARENT_FIELD = "host_catalog_id"
    PARENT_CLASS = HostCatalog
    host_catalog_id: CatalogRef
    host_ids: Annotated[list[str], ref("host", on_delete="remove")] = field(default_factory=list)

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "type": "static",
            "host_catalog_id": self.host_catalog_id,
            "host_ids": list(self.host_ids),
        }


class HostOps(Crud):
    def _build_hostcatalog(self, body: dict[str, Any], scope_id: str) -> HostCatalog:
        check_fields(body, COMMON)
        require_type(body, "static")
        hc = HostCatalog(id=new_id("hcst"), scope_id=scope_id)
        set_common(hc, body)
        return hc

    _update_hostcatalog = _update_hostset = staticmethod(check_common)

    def _build_host(self, body: dict[str, Any], scope_id: str) -> Host:
        attrs = check_fields(body, (*COMMON, "host_catalog_id"), ("address",))
        if not attrs.get("address"):
            raise InvalidArgument(
                request_fields={"attributes.address": "This field is required."})  # fmt: skip
        host = Host(id=new_id("hst"), scope_id=scope_id, host_catalog_id=body["host_catalog_id"],
                    address=str(attrs["address"]))  # fmt: skip
        set_common(host, body)
        return host

    def _update_host(self, res: Host, body: dict[str, Any]) -> None:
        attrs = check_fields(body, COMMON, ("address",))
        set_common(res, body)
        if "address" in attrs:
            if not attrs["address"]:
                raise InvalidArgument(request_fields={"attributes.address": "Cannot be empty."})
            res.address = str(attrs["address"])

    def _build_hostset(self, body: dict[str, Any], scope_id: str) -> HostSet:
        check_fields(body, (*COMMON, "host_catalog_id"))
        hs = HostSet(id=new_id("hsst"), scope_id=scope_id,
                     host_catalog_id=body["host_catalog_id"])  # fmt: skip
        set_common(hs, body)
        return hs

    def change_host_set_hosts(self, set_id: str, op: str, body: dict, caller: Caller) -> dict:
        """POST /v1/host-sets/{id}:add-hosts | :set-hosts | :remove-hosts."""

        def hosts(hs: HostSet, given: list[str], op: str) -> None:
            in_catalog = unknown_ids(
                "host_ids",
                "Hosts not in this host set's catalog: {bad}.",
                lambda h: self._child_of(h, Host, hs.host_catalog_id),
            )
            in_catalog(hs, given, op)

        return self.change_ids("host-sets", set_id, op, body, caller, thing="hosts",
                               key="host_ids", check=hosts)  # fmt: skip

    def _child_of(self, resource_id: str, cls: type[Resource], parent_id: str) -> bool:
        res = self.resources.get(resource_id)
        return isinstance(res, cls) and res.parent_id == parent_id
