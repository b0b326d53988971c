"""Config entries (``/v1/config``): validated by :mod:`..config_entries`, keyed by
(partition, kind, name); the discovery-chain kinds are checked as a graph before a write.
"""

from __future__ import annotations

from .. import config_entries as ce
from ..exceptions import BadRequest, PermissionDenied, RPCError
from .core import Authz, Store
from .records import ConfigEntry

ConfigKey = tuple[str, str, str]


def check_namespace(namespace: str | None, where: str = 'query parameter: "ns"') -> None:
    """Refuse a namespace other than ``default`` as Consul CE does (400, ``Bad request:
    Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature``).

    The sandbox is Community Edition for namespaces (it offers admin partitions, an
    Enterprise feature, on purpose): CE refuses any ``ns``; we also accept ``default``,
    the namespace our Enterprise-shaped answers name."""
    if namespace not in (None, "", "default"):
        raise BadRequest(f"Invalid {where} - {ce.NAMESPACES_ARE_ENTERPRISE}")


def entry_key(kind: str, name: str, partition: str, namespace: str = "default") -> ConfigKey:
    # One namespace, as in Consul CE (see check_namespace): every entry lives in default.
    check_namespace(namespace)
    return (partition, kind, name)


class ConfigState(Store):
    """Config entries of every kind; intentions are the ``service-intentions`` ones."""

    def _config_read_allowed(self, authz: Authz, entry: ConfigEntry) -> bool:
        kind, name, partition = entry.kind, entry.name, entry.partition
        if kind in ("proxy-defaults", "mesh"):
            return True
        if kind == "exported-services":
            return self._allowed(authz, "mesh", "read", "", partition)
        if kind == "service-intentions":
            return self._allowed(authz, "intentions", "read", name, partition)
        return self._allowed(authz, "service", "read", name, partition)

    def _config_write_check(self, authz: Authz, kind: str, name: str, partition: str) -> None:
        if kind in ("proxy-defaults", "mesh", "exported-services", "ingress-gateway"):
            self._require(authz, "mesh", "write", "", partition)
        elif kind == "service-intentions":
            self._require(authz, "intentions", "write", name, partition)
        else:
            self._require(authz, "service", "write", name, partition)

    def _graph_check(self, partition: str, proposed: dict[ConfigKey, dict | None]) -> None:
        def lookup(kind: str, name: str) -> dict | None:
            key = entry_key(kind, name, partition)
            if key in proposed:
                return proposed[key]
            found = self._config.get(key)
            return found.body if found else None

        chains = [
            k[2]
            for k in [*self._config, *proposed]
            if k[0] == partition and k[1] in ("service-splitter", "service-router")
        ]
        try:
            ce.validate_graph(lookup, chains)
        except ce.ConfigEntryError as exc:
            raise RPCError(str(exc)) from exc

    def config_apply(
        self,
        raw: dict,
        partition: str = "default",
        namespace: str = "default",
        cas: int | None = None,
        authz: Authz = None,
    ) -> bool:
        """``PUT /v1/config``: upsert an entry; ``False`` when ``cas`` does not match.

        Validation errors raise :class:`RPCError` (HTTP 500 with Consul's text).
        """
        partition = self.check_partition(raw.get("Partition") or partition)
        check_namespace(namespace)
        refused = ce.enterprise_namespace_keys(raw)
        if refused:
            raise BadRequest(
                "Request decoding failed: "
                + ce.multierror(
                    [
                        f'invalid config key "{k}", namespaces are a consul enterprise feature'
                        for k in refused
                    ]
                )
            )
        try:
            body = ce.normalize_and_validate(raw, partition, "default")
        except ce.UnknownKind:
            raise
        except ce.DecodeError as exc:
            raise BadRequest(f"Request decoding failed: {exc}") from exc
        except ce.ConfigEntryError as exc:
            raise RPCError(str(exc)) from exc
        if body["Kind"] in ce.PARTITION_KINDS:
            body["Namespace"] = "default"
        self._config_write_check(authz, body["Kind"], body["Name"], partition)
        with self.write():
            key = entry_key(body["Kind"], body["Name"], partition, body["Namespace"])
            old = self._config.get(key)
            if cas is not None and (old.modify_index if old else 0) != cas:
                return False
            if body["Kind"] in ce.ROUTING_KINDS:
                self._graph_check(partition, {key: body})
            if body["Kind"] == "service-intentions" and old:
                _carry_legacy(old.body, body)
            self._config.put(key, ConfigEntry(body))
        return True

    def get_config_entry(
        self,
        kind: str,
        name: str,
        partition: str = "default",
        namespace: str = "default",
        authz: Authz = None,
    ) -> dict | None:
        """``GET /v1/config/:kind/:name``: the entry as JSON, or ``None``."""
        kind = ce.canonical_kind(kind)
        with self._lock:
            entry = self._config.get(entry_key(kind, name, partition, namespace))
            if entry is None:
                return None
            if not self._config_read_allowed(authz, entry):
                assert authz is not None
                resource = {"service-intentions": "intentions", "exported-services": "mesh"}.get(
                    kind, "service"
                )
                raise PermissionDenied(
                    authz.accessor_id, resource, "read", name if resource != "mesh" else None
                )
            return entry.to_dict()

    def list_config_entries(
        self,
        kind: str,
        partition: str = "default",
        authz: Authz = None,
        filter_expr: str | None = None,
    ) -> list[dict]:
        """``GET /v1/config/:kind``: readable entries of a kind, by name."""
        kind = ce.canonical_kind(kind)
        return self._docs(
            self._config,
            partition=partition,
            where=lambda e: e.kind == kind,
            visible=lambda e: self._config_read_allowed(authz, e),
            filter_expr=filter_expr,
        )

    def config_delete(
        self,
        kind: str,
        name: str,
        partition: str = "default",
        namespace: str = "default",
        cas: int | None = None,
        authz: Authz = None,
    ) -> bool:
        """``DELETE /v1/config/:kind/:name``; ``False`` when ``cas`` does not match."""
        kind = ce.canonical_kind(kind)
        self._config_write_check(authz, kind, name, partition)
        with self.write():
            key = entry_key(kind, name, partition, namespace)
            old = self._config.get(key)
            if cas is not None and (old is None or old.modify_index != cas):
                return False
            if old is None:
                return True
            if kind in ce.ROUTING_KINDS:
                self._graph_check(partition, {key: None})
            del self._config[key]
        return True


def _carry_legacy(old: dict, new: dict) -> None:
    """Sources rewritten through the config entry keep their legacy IDs, as Consul keeps them."""
    by_name = {
        (s.get("Peer", ""), s.get("Partition", ""), s["Name"]): s for s in old.get("Sources") or []
    }
    for src in new.get("Sources") or []:
        prev = by_name.get((src.get("Peer", ""), src.get("Partition", ""), src.get("Name", "")))
        if prev:
            for legacy in ("LegacyID", "LegacyCreateTime", "LegacyMeta"):
                if prev.get(legacy) and not src.get(legacy):
                    src[legacy] = prev[legacy]
