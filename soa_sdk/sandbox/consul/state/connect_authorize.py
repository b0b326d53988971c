"""May this client certificate reach that service? ``POST /v1/agent/connect/authorize``.

As Consul's ``AgentConnectAuthorize`` (``agent/agent_endpoint.go``): the body names the
``Target`` service and the caller's ``ClientCertURI`` (the SPIFFE ID of its leaf,
``spiffe://<trust-domain>[/ap/<partition>]/ns/<ns>/dc/<dc>/svc/<service>``); the token needs
``service:write`` on the target. The intention that decides is the one by Consul's precedence,
as the Envoys' RBAC orders them (:func:`.precedence.deciding_source`), asked at L4: an L4 intention
allows or denies (``Matched L4 intention: default/web => default/api (Precedence: 9,
Action: ALLOW)``), an L7 one denies (``Matched L7 intention: ...``), none gives the default
(``Default intention policy`` when the agent sets ``default_intention_policy``, else
``Default behavior configured by ACLs``). Errors as Consul's: 400 ``Target service must be
specified``, ``ClientCertURI not a valid Connect identifier`` (not a SPIFFE ID of the
mesh), ``ClientCertURI not a valid Service identifier`` (an agent's or a gateway's),
``Mismatched partitions: "a" != "b"``. As in Consul, ``ClientCertSerial`` is not checked
against revocations and the URI's trust domain is not compared with ours (the TLS handshake
has verified the certificate against the CA roots before a proxy asks).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import HTTPError
from . import precedence
from .core import Authz, Store

_SERVICE = re.compile(r"^(?:/ap/([^/]+))?/ns/([^/]+)/dc/([^/]+)/svc/([^/]+)$")
_OTHER = (
    re.compile(r"^(?:/ap/([^/]+))?/agent/client/dc/([^/]+)/id/([^/]+)$"),
    re.compile(r"^/agent/server/dc/([^/]+)$"),
    re.compile(r"^(?:/ap/([^/]+))?/gateway/mesh/dc/([^/]+)$"),
)


def parse_service_uri(uri: str) -> tuple[str, str, str]:
    """(partition, namespace, service) of a service's SPIFFE ID, or Consul's 400."""
    parts = urlsplit(uri or "")
    path = parts.path
    if parts.scheme != "spiffe" or not parts.netloc:
        raise HTTPError(400, "ClientCertURI not a valid Connect identifier")
    found = _SERVICE.fullmatch(path)
    if found is None:
        if any(rx.fullmatch(path) for rx in _OTHER):
            raise HTTPError(400, "ClientCertURI not a valid Service identifier")
        raise HTTPError(400, "ClientCertURI not a valid Connect identifier")
    partition, namespace, _dc, service = found.groups()
    return partition or "default", namespace, service


def _intention_text(src: dict[str, Any], destination: str, precedence: int) -> str:
    """``structs.Intention.String()`` in Community Edition (namespace/name)."""
    legacy_id = src.get("LegacyID")
    ident = f"ID: {legacy_id}, " if legacy_id else ""
    perms = src.get("Permissions") or []
    detail = f"Permissions: {len(perms)}" if perms else f"Action: {src['Action'].upper()}"
    return (
        f"default/{src.get('Name', '')} => default/{destination}"
        f" ({ident}Precedence: {precedence}, {detail})"
    )


class ConnectAuthorizeState(Store):
    """The agent's L4 authorization of a mesh connection."""

    intention_default_allow: Any  # from IntentionState

    def agent_connect_authorize(
        self, raw: dict, partition: str = "default", authz: Authz = None
    ) -> dict[str, Any]:
        """``POST /v1/agent/connect/authorize``: ``{"Authorized": bool, "Reason": str}``."""
        target = raw.get("Target") or ""
        if not target:
            raise HTTPError(400, "Target service must be specified")
        caller_partition, namespace, caller = parse_service_uri(raw.get("ClientCertURI") or "")
        partition = self.check_partition(partition)
        self._require(authz, "service", "write", target, partition)
        if caller_partition != partition:
            raise HTTPError(400, f'Mismatched partitions: "{caller_partition}" != "{partition}"')
        with self._lock:

            def lookup(kind: str, name: str, part: str) -> dict | None:
                entry = self._config.get((part, kind, name))
                return entry.body if entry else None

            src = None
            if namespace == "default":  # CE: a caller in another namespace matches nothing
                who = precedence.Caller(caller, caller_partition)
                src = precedence.deciding_source(lookup, who, target, partition)
            if src is not None:
                exact = lookup("service-intentions", target, partition) or {}
                exact_dest = any(s is src for s in exact.get("Sources") or ())
                destination = target if exact_dest else "*"
                rank = src.get("Precedence") or 0
                text = _intention_text(src, destination, rank)
                if src.get("Permissions"):
                    return {"Authorized": False, "Reason": f"Matched L7 intention: {text}"}
                allowed = str(src.get("Action", "")).lower() == "allow"
                return {"Authorized": allowed, "Reason": f"Matched L4 intention: {text}"}
        if self.default_intention_policy:
            reason = "Default intention policy"
        else:
            reason = "Default behavior configured by ACLs"
        return {"Authorized": self.intention_default_allow(), "Reason": reason}
