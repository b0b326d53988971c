"""Config entries: kinds, normalisation and validation with Consul's own error texts.

Two layers, as in Consul:

* :func:`normalize_and_validate` is the entry's own ``Normalize()``/``Validate()``
  (``agent/structs/config_entry*.go``): names, weights summing to 100, subsets, sources;
* :func:`validate_graph` is the discovery-chain compile Consul runs on every write or delete
  that touches routing (``agent/consul/discoverychain/compile.go``): a splitter or router needs
  an L7 protocol, a split's ``ServiceSubset`` must be defined by the target's resolver,
  protocols must agree along a chain.

Both raise :class:`ConfigEntryError`; the HTTP layer answers 500 with the text, as Consul
passes RPC errors through. A value Consul's decoder (mapstructure, weakly typed) could not read
raises :class:`DecodeError`, a 400 ``Request decoding failed: ...``.

``ingress-gateway`` (``config_entry_gateways.go``): ``TLS: {"Enabled": bool}`` on the gateway
and on each listener (``Listeners[].TLS``), and Consul's checks on ``Hosts``: none on a ``tcp``
listener or a ``*`` service, unique within a listener, each a valid DNS name (``miekg/dns``
``IsDomainName``) with a wildcard only as the leftmost label, and no ``*`` host when the
gateway-level TLS is enabled.

Not implemented: kinds other than those in :data:`KINDS` (Consul's ``terminating-gateway``,
``api-gateway``, ``sameness-group``, ``jwt-provider``... are refused with a clear message),
resolver ``Redirect``/``Failover`` graph checks, ``JWT`` on intentions; on ingress gateways the
TLS ``SDS``, ``TLSMinVersion``/``TLSMaxVersion``/``CipherSuites`` and the per-service ``TLS``
(refused with a clear message), and Consul's checks that concern no host (ports declared twice,
protocols, services per listener).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from . import bexpr

KINDS = (
    "service-defaults",
    "proxy-defaults",
    "service-resolver",
    "service-splitter",
    "service-router",
    "service-intentions",
    "exported-services",
    "ingress-gateway",
    "mesh",
)
KNOWN_UNSUPPORTED = (
    "terminating-gateway",
    "api-gateway",
    "bound-api-gateway",
    "http-route",
    "tcp-route",
    "inline-certificate",
    "file-system-certificate",
    "sameness-group",
    "jwt-provider",
    "control-plane-request-limit",
    "registration",
)
# Kinds that live at the partition level (no namespace in Consul Enterprise).
PARTITION_KINDS = ("proxy-defaults", "mesh", "exported-services")
L7_PROTOCOLS = ("http", "http2", "grpc")
ROUTING_KINDS = (
    "service-defaults",
    "proxy-defaults",
    "service-resolver",
    "service-splitter",
    "service-router",
)

_VALID_SUBSET = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


#: Consul CE's answer to a namespace anywhere but ``default`` (``agent/http_ce.go``).
NAMESPACES_ARE_ENTERPRISE = "Namespaces are a Consul Enterprise feature"


#: Free-form maps: their keys are data, not config keys (``Meta``, proxy ``Config``).
_OPAQUE_MAPS = ("Meta", "Config", "LegacyMeta")


def enterprise_namespace_keys(raw: Any, path: str = "") -> list[str]:
    """Keys of ``raw`` (at any depth) naming a namespace other than ``default``.

    Consul CE decodes a config entry into structs without namespace fields, so each such
    key is "unused" and refused: ``invalid config key "Sources[0].Namespace", namespaces
    are a consul enterprise feature`` (``validateUnusedKeys``, ``config_entry_ce.go``). We
    let ``default`` through because our answers carry ``"Namespace": "default"``, as
    Consul Enterprise's do, and a client may send an entry back as it read it.
    """
    found: list[str] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).lower().endswith("namespace") and value not in (None, "", "default"):
                found.append(here)
            elif isinstance(value, dict | list) and key not in _OPAQUE_MAPS:
                found.extend(enterprise_namespace_keys(value, here))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            found.extend(enterprise_namespace_keys(value, f"{path}[{i}]"))
    return found


def multierror(errors: list[str]) -> str:
    """go-multierror's text for ``errors``, as Consul prints it."""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


class ConfigEntryError(ValueError):
    """A config entry Consul would refuse; ``str()`` is Consul's message."""


class UnknownKind(ConfigEntryError):
    """``invalid config entry kind: <kind>`` (a 400 at decode time)."""


class DecodeError(ConfigEntryError):
    """A value Consul's decoder refuses (a 400 ``Request decoding failed: <text>``)."""


def canonical_kind(kind: str) -> str:
    """Consul's spelling of a kind given in any case; raise :class:`UnknownKind` otherwise."""
    low = (kind or "").strip().lower()
    if low in KINDS:
        return low
    if low in KNOWN_UNSUPPORTED:
        raise UnknownKind(f"config entry kind {low} is not implemented by the sandbox")
    raise UnknownKind(f"invalid config entry kind: {kind}")


def _float(value: Any, where: str) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError) as exc:
        raise ConfigEntryError(f"{where}: expected a number, got {value!r}") from exc


def intention_precedence(source: str, destination: str) -> int:
    """Consul's precedence for namespace-less intentions: exact names beat wildcards."""
    if destination != "*":
        return 9 if source != "*" else 8
    return 6 if source != "*" else 5


def _validate_resolver(e: dict) -> None:
    subsets = e.get("Subsets") or {}
    if not isinstance(subsets, dict):
        raise ConfigEntryError("Subsets must be a map of subset name to definition")
    for name, subset in subsets.items():
        if name == "":
            raise ConfigEntryError("Subset defined with empty name")
        if not _VALID_SUBSET.fullmatch(name) or len(name) > 63:
            raise ConfigEntryError(f'Subset "{name}" is invalid')
        flt = (subset or {}).get("Filter", "")
        if flt:
            try:
                # Checked against the health entry a subset filters (Node, Service, Checks),
                # so a typo fails here rather than as "no healthy upstream" at request time.
                from .state.records import FILTER_SCHEMAS

                bexpr.compile_filter(flt, FILTER_SCHEMAS["health"])
            except bexpr.BexprError as exc:
                raise ConfigEntryError(
                    f'Filter for subset "{name}" is not a valid expression: {exc}'
                ) from exc
    default = e.get("DefaultSubset", "")
    if default and default not in subsets:
        raise ConfigEntryError(f'DefaultSubset "{default}" is not a valid subset')


def _validate_splitter(e: dict) -> None:
    splits = e.get("Splits") or []
    if not splits:
        raise ConfigEntryError("no splits configured")
    seen = set()
    total = 0
    for split in splits:
        key = (
            split.get("Service") or e["Name"],
            split.get("ServiceSubset", ""),
            split.get("Namespace", "") or "default",
            split.get("Partition", "") or "default",
        )
        if key in seen:
            raise ConfigEntryError(
                'split destination occurs more than once: service="{}", subset="{}", '
                'namespace="{}", partition="{}"'.format(*key)
            )
        seen.add(key)
        # Consul scales weights to 0.01% units before comparing with 100%
        total += round(_float(split.get("Weight"), "Weight") * 100)
    if total != 10000:
        raise ConfigEntryError(f"the sum of all split weights must be 100, not {total / 100:f}")


def _validate_router(e: dict) -> None:
    for i, route in enumerate(e.get("Routes") or []):
        http = ((route or {}).get("Match") or {}).get("HTTP") or {}
        paths = [k for k in ("PathExact", "PathPrefix", "PathRegex") if http.get(k)]
        if len(paths) > 1:
            raise ConfigEntryError(
                f"Route[{i}] should only contain at most one of PathExact, PathPrefix, or PathRegex"
            )
        if http.get("PathExact") and not http["PathExact"].startswith("/"):
            raise ConfigEntryError(
                f"Route[{i}] PathExact doesn't start with '/': {http['PathExact']!r}"
            )
        if http.get("PathPrefix") and not http["PathPrefix"].startswith("/"):
            raise ConfigEntryError(
                f"Route[{i}] PathPrefix doesn't start with '/': {http['PathPrefix']!r}"
            )


def _validate_intentions(e: dict) -> None:
    seen = set()
    for i, src in enumerate(e.get("Sources") or []):
        name = src.get("Name", "")
        if not name and not src.get("SamenessGroup"):
            raise ConfigEntryError(f"Sources[{i}].Name is required")
        key = (src.get("Peer", ""), src.get("Partition", "") or "default", name)
        if key in seen:
            raise ConfigEntryError(f'Sources[{i}] defines "{name}" more than once')
        seen.add(key)
        action = (src.get("Action") or "").lower()
        if src.get("Permissions"):
            if action:
                raise ConfigEntryError(
                    f"Sources[{i}].Action must be omitted if Permissions are specified"
                )
            for j, perm in enumerate(src["Permissions"]):
                if (perm.get("Action") or "").lower() not in ("allow", "deny"):
                    raise ConfigEntryError(
                        f"Sources[{i}].Permissions[{j}].Action must be set to 'allow' or 'deny'"
                    )
        elif action not in ("allow", "deny"):
            raise ConfigEntryError(f"Sources[{i}].Action must be set to 'allow' or 'deny'")


def _validate_exported(e: dict, partition: str) -> None:
    if e["Name"] != partition:
        raise ConfigEntryError(
            f'exported-services Name must be the name of the partition, and not "{e["Name"]}"'
        )
    for i, svc in enumerate(e.get("Services") or []):
        if not svc.get("Name"):
            raise ConfigEntryError(f"Services[{i}]: service name cannot be empty")
        consumers = svc.get("Consumers") or []
        if not consumers:
            raise ConfigEntryError(f"Services[{i}]: must have at least one consumer")
        for j, consumer in enumerate(consumers):
            set_fields = [k for k in ("Partition", "Peer", "SamenessGroup") if consumer.get(k)]
            if len(set_fields) != 1:
                raise ConfigEntryError(
                    f"Services[{i}].Consumers[{j}]: must define at most one of Peer, Partition, "
                    "or SamenessGroup"
                    if set_fields
                    else f"Services[{i}].Consumers[{j}]: must define one of Peer, Partition, or "
                    "SamenessGroup"
                )


#: ``GatewayTLSConfig`` fields the sandbox does not implement (``Enabled`` is the one it does).
_UNSUPPORTED_TLS = ("SDS", "TLSMinVersion", "TLSMaxVersion", "CipherSuites")
_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def _decode_failed(message: str) -> DecodeError:
    return DecodeError(f"1 error(s) decoding:\n\n* {message}")


def _weak_bool(value: Any, where: str) -> bool:
    """mapstructure's weakly typed bool: a bool, a number (non-zero), ``strconv.ParseBool``
    text, or empty text (false)."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        if value == "":
            return False
        if value in _GO_BOOLS:
            return _GO_BOOLS[value]
        raise _decode_failed(
            f"cannot parse '{where}' as bool: strconv.ParseBool: parsing "
            f"{_go_quote(value)}: invalid syntax"
        )
    raise _decode_failed(
        f"'{where}' expected type 'bool', got unconvertible type '{_go_type(value)}'"
    )


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def _go_quote(text: str) -> str:
    """Go's ``%q`` of ``text`` (close enough: JSON's escapes, non-ASCII kept)."""
    return json.dumps(text, ensure_ascii=False)


def _gateway_tls(e: dict, key: str, where: str) -> bool:
    """Normalise ``e[key]`` (a ``GatewayTLSConfig``) in place; whether it enables TLS."""
    tls = e.get(key)
    if tls is None:
        return False
    if not isinstance(tls, dict):
        raise _decode_failed(f"'{where}' expected a map, got '{_go_type(tls)}'")
    for field_name in _UNSUPPORTED_TLS:
        if tls.get(field_name) not in (None, "", [], {}):
            raise ConfigEntryError(
                f"{where}.{field_name} is not implemented by the sandbox "
                "(the gateway's certificate is its Connect leaf)"
            )
    tls["Enabled"] = _weak_bool(tls.get("Enabled"), f"{where}.Enabled")
    return tls["Enabled"]


def is_dns_name(host: str) -> bool:
    """``miekg/dns`` ``IsDomainName``: liberal about characters, strict about shape: no empty
    label (``a..b``, a leading dot), labels of at most 63 octets, at most 255 on the wire."""
    if host == ".":
        return True
    if not host or host.startswith("."):
        return False
    fqdn = host if host.endswith(".") else host + "."
    labels = fqdn[:-1].split(".")
    if any(not label or len(label.encode()) > 63 for label in labels):
        return False
    return len(fqdn.encode()) + 1 <= 255


def _validate_host(tls_enabled: bool, host: str) -> None:
    # '*' is Consul's special case: any Host header, for plain-HTTP demos only.
    if host == "*":
        if tls_enabled:
            raise ConfigEntryError(
                "Host '*' is not allowed when TLS is enabled, all hosts must be valid DNS "
                "records to add as a DNSSAN"
            )
        return
    if not is_dns_name(host):
        raise ConfigEntryError(f"Host {_go_quote(host)} must be a valid DNS hostname")
    if "*" in host.removeprefix("*."):
        raise ConfigEntryError(
            f"Host {_go_quote(host)} is not valid, a wildcard specifier is only allowed as "
            "the leftmost label"
        )


def _validate_ingress(e: dict) -> None:
    """The TLS blocks and the ``Hosts`` checks of ``IngressGatewayConfigEntry.Validate``, in
    Consul's order (first error wins)."""
    gateway_tls = _gateway_tls(e, "TLS", "TLS")
    e["TLS"] = e.get("TLS") or {"Enabled": False}
    for i, listener in enumerate(e.get("Listeners") or []):
        port = listener.get("Port")
        _gateway_tls(listener, "TLS", f"Listeners[{i}].TLS")
        declared: set[str] = set()
        for j, svc in enumerate(listener.get("Services") or []):
            if (svc or {}).get("TLS") not in (None, {}):
                raise ConfigEntryError(
                    f"Listeners[{i}].Services[{j}].TLS (a per-service SDS certificate) is not "
                    "implemented by the sandbox"
                )
            hosts = (svc or {}).get("Hosts") or []
            if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
                raise _decode_failed(
                    f"'Listeners[{i}].Services[{j}].Hosts' expected a list of strings"
                )
            if listener["Protocol"] == "tcp" and hosts:
                raise ConfigEntryError(
                    "Associating hosts to a service is not supported for the tcp protocol "
                    f"(listener on port {port})"
                )
            if svc.get("Name") == "*" and hosts:
                raise ConfigEntryError(
                    "Associating hosts to a wildcard service is not supported "
                    f"(listener on port {port})"
                )
            for host in hosts:
                if host in declared:
                    raise ConfigEntryError(
                        f"Hosts must be unique within a specific listener (listener on port {port})"
                    )
                declared.add(host)
                _validate_host(gateway_tls, host)


def normalize_and_validate(raw: dict, partition: str, namespace: str) -> dict:
    """Return the entry as Consul stores it (canonical kind, defaults, tenancy) or raise."""
    e = copy.deepcopy(raw)
    kind = canonical_kind(str(e.get("Kind", "")))
    e["Kind"] = kind
    name = e.get("Name", "")
    if not isinstance(name, str) or not name:
        raise ConfigEntryError("Name is required")
    if e.get("Meta") is not None and not isinstance(e["Meta"], dict):
        raise ConfigEntryError("Meta must be a map of strings")
    e["Partition"] = partition
    e["Namespace"] = namespace
    for stale in ("CreateIndex", "ModifyIndex"):
        e.pop(stale, None)
    if kind == "proxy-defaults":
        if name != "global":
            raise ConfigEntryError(f'invalid name ("{name}"), only "global" is supported')
        e.setdefault("Config", {})
        e.setdefault("MeshGateway", {})
        e.setdefault("Expose", {})
        e.setdefault("TransparentProxy", {})
    elif kind == "mesh":
        if name != "mesh":
            raise ConfigEntryError(f'invalid name ("{name}"), only "mesh" is supported')
    elif kind == "service-defaults":
        if e.get("Protocol"):
            e["Protocol"] = str(e["Protocol"]).lower()
        e.setdefault("MeshGateway", {})
        e.setdefault("Expose", {})
        e.setdefault("TransparentProxy", {})
    elif kind == "service-resolver":
        _validate_resolver(e)
    elif kind == "service-splitter":
        _validate_splitter(e)
        for split in e["Splits"]:
            split["Weight"] = _float(split.get("Weight"), "Weight")
    elif kind == "service-router":
        _validate_router(e)
    elif kind == "service-intentions":
        _validate_intentions(e)
        for src in e.get("Sources") or []:
            if src.get("Action"):
                src["Action"] = src["Action"].lower()
            src["Precedence"] = intention_precedence(src.get("Name", ""), name)
            src["Type"] = "consul"
    elif kind == "exported-services":
        _validate_exported(e, partition)
    elif kind == "ingress-gateway":
        for listener in e.get("Listeners") or []:
            listener["Protocol"] = (listener.get("Protocol") or "tcp").lower()
        _validate_ingress(e)
    return e


Lookup = Callable[[str, str], "dict | None"]


def service_protocol(lookup: Lookup, service: str) -> str:
    """The protocol of ``service``: service-defaults, else proxy-defaults ``protocol``, else tcp."""
    defaults = lookup("service-defaults", service)
    if defaults and defaults.get("Protocol"):
        return str(defaults["Protocol"]).lower()
    proxy = lookup("proxy-defaults", "global")
    if proxy:
        proto = (proxy.get("Config") or {}).get("protocol") or (proxy.get("Config") or {}).get(
            "Protocol"
        )
        if proto:
            return str(proto).lower()
    return "tcp"


def compile_chain(lookup: Lookup, service: str) -> None:
    """Compile the discovery chain of ``service`` far enough to raise Consul's graph errors."""
    state = {"protocol": None, "advanced": False}

    def record(svc: str) -> None:
        proto = service_protocol(lookup, svc)
        if state["protocol"] is None:
            state["protocol"] = proto
        elif state["protocol"] != proto:
            raise ConfigEntryError(
                f'discovery chain "{service}" uses inconsistent protocols; service '
                f'"{svc}" has "{proto}" which is not "{state["protocol"]}"'
            )

    def resolve(svc: str, subset: str) -> None:
        record(svc)
        resolver = lookup("service-resolver", svc) or {}
        if subset and subset not in (resolver.get("Subsets") or {}):
            raise ConfigEntryError(f'service "{svc}" does not have a subset named "{subset}"')

    def split_or_resolve(svc: str, subset: str, seen: tuple[str, ...]) -> None:
        splitter = lookup("service-splitter", svc) if not subset else None
        if splitter and svc not in seen:
            state["advanced"] = True
            record(svc)
            for split in splitter.get("Splits") or []:
                target = split.get("Service") or svc
                if target == svc:
                    resolve(target, split.get("ServiceSubset", ""))
                else:
                    split_or_resolve(target, split.get("ServiceSubset", ""), (*seen, svc))
        else:
            resolve(svc, subset)

    router = lookup("service-router", service)
    if router:
        state["advanced"] = True
        record(service)
        for route in router.get("Routes") or []:
            dest = (route or {}).get("Destination") or {}
            split_or_resolve(dest.get("Service") or service, dest.get("ServiceSubset", ""), ())
    split_or_resolve(service, "", ())
    if state["advanced"] and state["protocol"] not in L7_PROTOCOLS:
        raise ConfigEntryError(
            f'discovery chain "{service}" uses a protocol "{state["protocol"]}" that does not '
            "permit advanced routing or splitting behavior"
        )


def validate_graph(lookup: Lookup, services: list[str]) -> None:
    """Compile every chain in ``services`` against the proposed entries (``lookup``)."""
    for svc in sorted(set(services)):
        compile_chain(lookup, svc)
