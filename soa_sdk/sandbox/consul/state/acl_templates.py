"""Templated policies (``builtin/service``, ``builtin/node``, ``builtin/dns``), as
``structs/acl_templated_policy.go`` defines them, and their three endpoints.

Not implemented: other templates, ``Datacenters`` (kept, not enforced).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..exceptions import BadRequest
from .acl_fields import IDENTITY_NAME
from .core import Authz, Store

_SERVICE_TEMPLATE = """
service "{{.Name}}" {
\tpolicy = "write"
}
service "{{.Name}}-sidecar-proxy" {
\tpolicy = "write"
}
service_prefix "" {
\tpolicy = "read"
}
node_prefix "" {
\tpolicy = "read"
}"""
_NODE_TEMPLATE = """
node "{{.Name}}" {
\tpolicy = "write"
}
service_prefix "" {
\tpolicy = "read"
}"""
_DNS_TEMPLATE = """
node_prefix "" {
\tpolicy = "read"
}
service_prefix "" {
\tpolicy = "read"
}
query_prefix "" {
\tpolicy = "read"
}"""
_NAME_SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"name": {"type": "string", "$ref": "#/definitions/min-length-one"}},
        "required": ["name"],
        "definitions": {"min-length-one": {"type": "string", "minLength": 1}},
    },
    indent=2,
)
#: name -> (TemplateID, Schema, Template, Description), as ``structs/acl_templated_policy.go``
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "builtin/service": (
        "00000000-0000-0000-0000-000000000003",
        _NAME_SCHEMA,
        _SERVICE_TEMPLATE,
        "Gives the token or role permissions to register a service and discover services in"
        " the Consul catalog. It also gives the specified service's sidecar proxy the"
        " permission to discover and route traffic to other services.",
    ),
    "builtin/node": (
        "00000000-0000-0000-0000-000000000004",
        _NAME_SCHEMA,
        _NODE_TEMPLATE,
        "Gives the token or role permissions for a register an agent/node into the catalog. A"
        " node is typically a consul agent but can also be a physical server, cloud instance or"
        " a container.",
    ),
    "builtin/dns": (
        "00000000-0000-0000-0000-000000000005",
        "",
        _DNS_TEMPLATE,
        "Gives the token or role permissions for the Consul DNS to query services in the network.",
    ),
}


def render_template(name: str, variables: dict[str, Any] | None) -> str:
    """The rules a templated policy stands for (``SyntheticPolicy``)."""
    _tid, _schema, template, _desc = TEMPLATES[name]
    return template.replace("{{.Name}}", str((variables or {}).get("name", "")))


def template_doc(name: str) -> dict[str, str]:
    _tid, schema, template, desc = TEMPLATES[name]
    return {"TemplateName": name, "Schema": schema, "Template": template, "Description": desc}


def templated_policies(raw: list[dict] | None, what: str = "Token") -> list[dict[str, Any]]:
    """A token's or role's ``TemplatedPolicies``, checked (400 with Consul's texts)."""
    out: list[dict[str, Any]] = []
    for tp in raw or []:
        name = tp.get("TemplateName", "")
        if name not in TEMPLATES:
            raise BadRequest(f"Invalid {what}: acl templated policy does not exist: {name}")
        variables = {k.lower(): v for k, v in (tp.get("TemplateVariables") or {}).items()}
        if TEMPLATES[name][1]:
            vname = variables.get("name")
            if not vname:
                raise BadRequest(f"Invalid {what}: name is required")
            if not IDENTITY_NAME.fullmatch(str(vname)):
                kind = "service" if name == "builtin/service" else "node"
                raise BadRequest(
                    f"Invalid {what}: {kind} identity {vname!r} has an invalid name. Only"
                    " lowercase alphanumeric characters, '-' and '_' are allowed"
                )
        doc: dict[str, Any] = {"TemplateName": name}
        if variables:
            doc["TemplateVariables"] = {"name": variables.get("name", "")}
        if tp.get("Datacenters"):
            doc["Datacenters"] = list(tp["Datacenters"])
        out.append(doc)
    return out


class TemplatedPolicyState(Store):
    """``GET /v1/acl/templated-policies``, ``GET /v1/acl/templated-policy/name/:name``,
    ``POST /v1/acl/templated-policy/preview/:name``."""

    def templated_policy_list(self, authz: Authz = None) -> dict:
        """``GET /v1/acl/templated-policies``: name -> ``ACLTemplatedPolicyResponse``."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        return {name: template_doc(name) for name in sorted(TEMPLATES)}

    def templated_policy_get(self, name: str, authz: Authz = None) -> dict:
        """``GET /v1/acl/templated-policy/name/:name`` (404 for an unknown template)."""
        from ..exceptions import NotFound

        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        if name not in TEMPLATES:
            raise NotFound(f"Invalid templated policy Name: {name}")
        return template_doc(name)

    def templated_policy_preview(self, name: str, raw: dict, authz: Authz = None) -> dict:
        """``POST /v1/acl/templated-policy/preview/:name``: the synthetic policy."""
        from ..exceptions import NotFound

        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        if name not in TEMPLATES:
            raise NotFound(f"Invalid templated policy Name: {name}")
        variables = {k.lower(): v for k, v in (raw or {}).items()}
        (tp,) = templated_policies([{"TemplateName": name, "TemplateVariables": variables}])
        rules = render_template(name, tp.get("TemplateVariables"))
        hash_id = uuid.uuid5(uuid.NAMESPACE_OID, rules).hex
        return {
            "ID": hash_id,
            "Name": f"synthetic-policy-{hash_id}",
            "Description": f"synthetic policy generated from templated policy: {name}",
            "Rules": rules,
            "Datacenters": None,
            "Partition": "default",
            "Namespace": "default",
        }
