"""ACL bootstrap, roles, templated policies, auth methods, binding rules, login and logout.

The shapes are ``api/acl.go``'s (``ACLRole``, ``ACLAuthMethod``, ``ACLBindingRule``,
``ACLTemplatedPolicyResponse``, ``ACLLoginParams``); statuses and texts follow
``agent/acl_endpoint.go`` and ``agent/consul/acl_endpoint.go``:

- ``PUT /v1/acl/bootstrap`` works once; after that (and on an agent started with an initial
  management token, as the sandbox's is) 403
  ``Permission denied: ACL bootstrap no longer allowed (reset index: N)``;
- roles: ``PUT /v1/acl/role``, ``GET|PUT|DELETE /v1/acl/role/:id``,
  ``GET /v1/acl/role/name/:name``, ``GET /v1/acl/roles``; a token's ``Roles`` links resolve
  into the role's policies, service/node identities and templated policies;
- templated policies: ``GET /v1/acl/templated-policies``,
  ``GET /v1/acl/templated-policy/name/:name``, ``POST /v1/acl/templated-policy/preview/:name``
  (``builtin/service``, ``builtin/node``, ``builtin/dns``);
- auth methods of type ``jwt`` (``JWTValidationPubKeys`` or ``JWKSURL``, ``BoundIssuer``,
  ``BoundAudiences``, ``ClaimMappings``, ``ListClaimMappings``, leeways; the token is
  verified as go-sso does, :mod:`..jwt_auth`), in an admin partition, and binding rules
  (``Selector`` in go-bexpr over ``value.*``/``list.*``, ``BindType`` service, node, role or
  policy, ``BindName`` with ``${value.x}``);
- ``POST /v1/acl/login`` turns a bearer JWT into a token (``AuthMethod`` set, ``Local: true``
  unless the method's ``TokenLocality`` is ``global``, ``ExpirationTTL`` = ``MaxTokenTTL``);
  ``POST /v1/acl/logout`` deletes the token it carries (only a login's).

Not implemented: auth method types other than ``jwt`` (``kubernetes``, ``aws-iam``, ``oidc``
are refused: the talk's ECS tasks log in with ``aws-iam`` and its EKS pods with
``kubernetes``; the lab's workloads log in with OpenBao identity tokens and ``jwt`` instead,
see :mod:`soa_sdk.sandbox.workloads.login`), ``OIDCDiscoveryURL`` (refused), what of the
``jwt`` validator :mod:`..jwt_auth` leaves out, the ``templated-policy`` bind type and
``BindVars``, templated policies other than the three above, ``Datacenters`` on templated
policies (kept, not enforced), namespace rules (``NamespaceRules``) of auth methods; auth
methods in namespaces (Consul CE has none).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from .. import acl as aclmod
from .. import bexpr
from ..checks import parse_duration
from ..exceptions import ACLNotFound, BadRequest, ConsulError, RPCError
from ..jwt_auth import JWTError, validate_jwt
from .core import GLOBAL_MANAGEMENT_ID, Authz, Store, now_iso
from .records import AuthMethod, BindingRule, Role, Token

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
_IDENTITY_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$")
_BIND_VAR = re.compile(r"\$\{([^}]*)\}")
_BIND_TYPES = ("service", "node", "role", "policy")
#: Consul's defaults for ``acl.token_min_expiration_ttl`` / ``token_max_expiration_ttl``
TOKEN_MIN_TTL = 60.0
TOKEN_MAX_TTL = 24 * 3600.0


class PermissionDeniedPlain(ConsulError):
    """403 ``Permission denied`` (``acl.ErrPermissionDenied``, no detail), or with a cause."""

    code = 403

    def __init__(self, cause: str = "") -> None:
        super().__init__("Permission denied" + (f": {cause}" if cause else ""))


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String`` prints it (``1m0s``, ``24h0m0s``)."""
    if seconds < 60:
        return f"{seconds:g}s"
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else f"{m}m{s}s"


def render_template(name: str, variables: dict[str, Any] | None) -> str:
    """The rules a templated policy stands for (``SyntheticPolicy``)."""
    _tid, _schema, template, _desc = TEMPLATES[name]
    return template.replace("{{.Name}}", str((variables or {}).get("name", "")))


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


def parse_rfc3339(text: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise BadRequest(f"Request decode failed: invalid time {text!r}") from exc


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name or JSON pointer (``/a/b``), as go-sso's ``getClaim``."""
    if not path.startswith("/"):
        return claims.get(path)
    value: Any = claims
    for part in path.strip("/").split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def mapped_vars(claims: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """``{"value": {...}, "list": {...}}`` from the method's claim mappings."""
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for claim, attr in (config.get("ClaimMappings") or {}).items():
        got = _claim(claims, claim)
        if got is not None and not isinstance(got, (dict, list)):
            values[attr] = str(got).lower() if isinstance(got, bool) else str(got)
    for claim, attr in (config.get("ListClaimMappings") or {}).items():
        got = _claim(claims, claim)
        if isinstance(got, list):
            lists[attr] = [str(v) for v in got]
        elif got is not None:
            lists[attr] = [str(got)]
    return {"value": values, "list": lists}


def _interpolate(bind_name: str, variables: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        ref = m.group(1).strip()
        kind, _, attr = ref.partition(".")
        value = variables.get(kind, {}).get(attr) if kind == "value" else None
        if value is None:
            raise KeyError(ref)
        return str(value)

    return _BIND_VAR.sub(sub, bind_name)


# ---------------------------------------------------------------- the state family


class ACLAuthState(Store):
    """Roles, auth methods and binding rules (tables ``_roles``, ``_auth_methods``,
    ``_binding_rules``, all under the ``acl`` index); bootstrap, login, logout."""

    _roles: Any
    _auth_methods: Any
    _binding_rules: Any
    _acl_bootstrap_index: int
    acl_token_min_ttl: float = TOKEN_MIN_TTL
    acl_token_max_ttl: float = TOKEN_MAX_TTL

    # ------------------------------------------------------------------ bootstrap

    def acl_bootstrap(self) -> dict:
        """``PUT /v1/acl/bootstrap``: the first management token, once (no token needed)."""
        from ..exceptions import ACLDisabled

        if not self.acl_enabled:
            raise ACLDisabled()
        with self.write() as tx:
            if self._acl_bootstrap_index:
                raise PermissionDeniedPlain(
                    f"ACL bootstrap no longer allowed (reset index: {self._acl_bootstrap_index})"
                )
            secret = str(uuid.uuid4())
            token = Token(
                str(uuid.uuid4()),
                secret,
                "Bootstrap Token (Global Management)",
                [{"ID": GLOBAL_MANAGEMENT_ID, "Name": "global-management"}],
                create_time=now_iso(),
            )
            self._tokens.put(token.accessor_id, token)  # type: ignore[attr-defined]
            self._acl_bootstrap_index = tx.index
            # the sandbox's reset keeps it, as it keeps an initial management token
            self.initial_management_token = secret  # type: ignore[attr-defined]
            self._bootstrap_accessor = token.accessor_id
            return token.to_dict()

    # ------------------------------------------------------------------ links

    def _resolve_links(
        self, table: Any, links: list[dict], what: str, name_of: Any
    ) -> list[dict[str, str]]:
        out = []
        for link in links or []:
            want_id, want_name = link.get("ID"), link.get("Name")
            found = next(
                (
                    r
                    for r in table.values()
                    if (want_id and r.id == want_id) or (not want_id and name_of(r) == want_name)
                ),
                None,
            )
            if found is None:
                by = f"ID {want_id!r}" if want_id else f"Name {want_name!r}"
                raise BadRequest(f"No such ACL {what} with {by}")
            if not any(o["ID"] == found.id for o in out):
                out.append({"ID": found.id, "Name": name_of(found)})
        return out

    @staticmethod
    def _templated(raw: list[dict] | None, what: str = "Token") -> list[dict[str, Any]]:
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
                if not _IDENTITY_NAME.match(str(vname)):
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

    def _identity_rules(
        self,
        policies: list[dict],
        services: list[dict],
        nodes: list[dict],
        templated: list[dict],
    ) -> list[aclmod.Rules]:
        parts = [self._policy_rules(p["ID"]) for p in policies if p["ID"] in self._policies]  # type: ignore[attr-defined]
        parts += [aclmod.service_identity_rules(i["ServiceName"]) for i in services]
        parts += [aclmod.node_identity_rules(i["NodeName"]) for i in nodes]
        parts += [
            aclmod.parse_rules(render_template(t["TemplateName"], t.get("TemplateVariables")))
            for t in templated
        ]
        return parts

    def _role_rules(self, token: Token) -> tuple[list[aclmod.Rules], bool]:
        """The rules a token's roles grant, and whether one links global-management."""
        parts: list[aclmod.Rules] = []
        management = False
        for link in token.roles:
            role = self._roles.get(link["ID"])
            if role is None:
                continue
            management |= any(p["ID"] == GLOBAL_MANAGEMENT_ID for p in role.policies)
            parts += self._identity_rules(
                role.policies, role.service_identities, role.node_identities,
                role.templated_policies,
            )  # fmt: skip
        return parts, management

    # ------------------------------------------------------------------ roles

    def role_upsert(self, raw: dict, role_id: str | None = None, authz: Authz = None) -> dict:
        """``PUT /v1/acl/role`` (create) and ``PUT /v1/acl/role/:id`` (update)."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        name = raw.get("Name", "")
        if not name:
            raise BadRequest("Invalid Role: no Name is set")
        if not re.fullmatch(r"[A-Za-z0-9\-_]{1,256}", name):
            raise BadRequest("Invalid Role: the name can only contain alphanumeric characters,"
                             " dashes and underscores")  # fmt: skip
        with self.write():
            rid = role_id or raw.get("ID") or ""
            if rid and rid not in self._roles:
                raise BadRequest(f"Cannot find role {rid}")
            if any(r.name == name and r.id != rid for r in self._roles.values()):
                raise BadRequest(f"Invalid Role: A Role with Name {name!r} already exists")
            policies = self._resolve_policy_links(raw.get("Policies") or [])  # type: ignore[attr-defined]
            services = _service_identities(raw.get("ServiceIdentities"), "Role")
            nodes = _node_identities(raw.get("NodeIdentities"), self.datacenter)
            role = Role(
                rid or str(uuid.uuid4()),
                name,
                raw.get("Description", ""),
                policies,
                services,
                nodes,
                self._templated(raw.get("TemplatedPolicies"), "Role"),
            )
            self._roles.put(role.id, role)
            for token in self._tokens.values():  # type: ignore[attr-defined]
                for link in token.roles:
                    if link["ID"] == role.id:
                        link["Name"] = name
            return role.to_dict()

    def role_get(
        self, role_id: str | None = None, name: str | None = None, authz: Authz = None
    ) -> dict:
        """``GET /v1/acl/role/:id`` or ``/v1/acl/role/name/:name`` (403 ``ACL not found``)."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            role = next(
                (r for r in self._roles.values() if r.id == role_id or (name and r.name == name)),
                None,
            )
            if role is None:
                raise ACLNotFound()
            return role.to_dict()

    def role_list(self, policy: str = "", authz: Authz = None) -> list[dict]:
        """``GET /v1/acl/roles`` (``?policy=`` keeps the roles that link that policy)."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            roles = [
                r.to_dict()
                for r in self._roles.values()
                if not policy or any(p["ID"] == policy for p in r.policies)
            ]
        return sorted(roles, key=lambda r: r["Name"])

    def role_delete(self, role_id: str, authz: Authz = None) -> bool:
        """``DELETE /v1/acl/role/:id`` (the links to it go from every token)."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        with self.write():
            if self._roles.pop(role_id, None) is not None:
                for key, token in list(self._tokens.items()):  # type: ignore[attr-defined]
                    if any(r["ID"] == role_id for r in token.roles):
                        token.roles = [r for r in token.roles if r["ID"] != role_id]
                        self._tokens.touch(key)  # type: ignore[attr-defined]
        return True

    # ------------------------------------------------------------------ templated policies

    def templated_policy_list(self, authz: Authz = None) -> dict:
        """``GET /v1/acl/templated-policies``: name -> ``ACLTemplatedPolicyResponse``."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        return {name: _template_doc(name) for name in sorted(TEMPLATES)}

    def templated_policy_get(self, name: str, authz: Authz = None) -> dict:
        """``GET /v1/acl/templated-policy/name/:name`` (404 for an unknown template)."""
        from ..exceptions import NotFound

        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        if name not in TEMPLATES:
            raise NotFound(f"Invalid templated policy Name: {name}")
        return _template_doc(name)

    def templated_policy_preview(self, name: str, raw: dict, authz: Authz = None) -> dict:
        """``POST /v1/acl/templated-policy/preview/:name``: the synthetic policy."""
        from ..exceptions import NotFound

        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        if name not in TEMPLATES:
            raise NotFound(f"Invalid templated policy Name: {name}")
        variables = {k.lower(): v for k, v in (raw or {}).items()}
        (tp,) = self._templated([{"TemplateName": name, "TemplateVariables": variables}])
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

    # ------------------------------------------------------------------ auth methods

    def _acl_partition(self, raw: dict | None, partition: str) -> str:
        """The partition a request names (the body's ``Partition``, else ``?partition=``);
        400 ``Partition "x" does not exist`` as for tokens."""
        partition = (raw or {}).get("Partition") or partition or "default"
        if partition not in self._partitions:  # type: ignore[attr-defined]
            raise BadRequest(f'Partition "{partition}" does not exist')
        return partition

    def auth_method_upsert(
        self,
        raw: dict,
        name: str | None = None,
        partition: str = "default",
        authz: Authz = None,
    ) -> dict:
        """``PUT /v1/acl/auth-method`` (create) and ``PUT /v1/acl/auth-method/:name``, in the
        partition of the body or ``?partition=`` (auth methods are per partition)."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        partition = self._acl_partition(raw, partition)
        name = name or raw.get("Name", "")
        if not name:
            raise BadRequest("Invalid Auth Method: no Name is set")
        if not re.fullmatch(r"[A-Za-z0-9\-_]{1,128}", name):
            raise BadRequest("Invalid Auth Method: invalid Name")
        kind = raw.get("Type", "")
        old = self._auth_methods.get((partition, name))
        if old is not None and kind and kind != old.type:
            raise BadRequest(f"Invalid Auth Method: Type cannot be changed: {old.type} -> {kind}")
        kind = kind or (old.type if old else "")
        if not kind:
            raise BadRequest("Invalid Auth Method: No Type is set")
        if kind != "jwt":
            raise BadRequest(
                f'Invalid Auth Method: Type should be one of: ["jwt"] (the sandbox serves jwt'
                f" only; {kind!r} is not implemented)"
            )
        locality = raw.get("TokenLocality", "")
        if locality not in ("", "local", "global"):
            raise BadRequest(f"Invalid Auth Method: invalid TokenLocality {locality!r}")
        max_ttl = raw.get("MaxTokenTTL") or ""
        if max_ttl:
            try:
                seconds = parse_duration(max_ttl)
            except ValueError as exc:
                raise BadRequest(f"Request decode failed: {exc}") from exc
            too_long = seconds > self.acl_token_max_ttl
            if too_long or seconds < self.acl_token_min_ttl:
                bound = self.acl_token_max_ttl if too_long else self.acl_token_min_ttl
                raise BadRequest(
                    f"Invalid Auth Method: MaxTokenTTL {go_duration(seconds)} cannot be"
                    f" {'more' if too_long else 'less'} than {go_duration(bound)}"
                )
            max_ttl = go_duration(seconds)
        config = dict(raw.get("Config") or {})
        sources = [
            k for k in ("JWTValidationPubKeys", "JWKSURL", "OIDCDiscoveryURL") if config.get(k)
        ]
        if len(sources) != 1:
            raise BadRequest(
                "Invalid Auth Method: exactly one of 'JWTValidationPubKeys', 'JWKSURL', or"
                " 'OIDCDiscoveryURL' must be set for 'jwt'"
            )
        if sources == ["OIDCDiscoveryURL"]:
            raise BadRequest("Invalid Auth Method: OIDCDiscoveryURL is not implemented by the"
                             " sandbox; use JWKSURL or JWTValidationPubKeys")  # fmt: skip
        try:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            for pem in config.get("JWTValidationPubKeys") or []:
                load_pem_public_key(pem.encode())
        except (ValueError, TypeError) as exc:
            raise BadRequest("Invalid Auth Method: error parsing public key") from exc
        with self.write():
            method = AuthMethod(
                name,
                kind,
                raw.get("DisplayName", ""),
                raw.get("Description", ""),
                max_ttl,
                locality,
                config,
                partition,
            )
            self._auth_methods.put((partition, name), method)
            return method.to_dict()

    def auth_method_get(self, name: str, partition: str = "default", authz: Authz = None) -> dict:
        """``GET /v1/acl/auth-method/:name`` (403 ``ACL not found`` when unknown)."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            method = self._auth_methods.get((partition, name))
            if method is None:
                raise ACLNotFound()
            return method.to_dict()

    def auth_method_list(self, partition: str = "default", authz: Authz = None) -> list[dict]:
        """``GET /v1/acl/auth-methods`` (stubs: no Config) of one partition."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            docs = [m.to_dict() for m in self._auth_methods.values() if m.partition == partition]
        for doc in docs:
            doc.pop("Config", None)
        return sorted(docs, key=lambda d: d["Name"])

    def auth_method_delete(
        self, name: str, partition: str = "default", authz: Authz = None
    ) -> bool:
        """``DELETE /v1/acl/auth-method/:name``: its binding rules and tokens go with it."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        with self.write():
            if self._auth_methods.pop((partition, name), None) is not None:
                self._purge_logins(
                    lambda rec: (rec.partition, rec.auth_method) == (partition, name)
                )
        return True

    def _purge_logins(self, match: Any) -> None:
        """Drop the binding rules and login tokens ``match`` selects (inside a write)."""
        self._binding_rules.purge(lambda k: match(self._binding_rules[k]))
        tokens = self._tokens  # type: ignore[attr-defined]
        tokens.purge(lambda k: bool(tokens[k].auth_method) and match(tokens[k]))

    # ------------------------------------------------------------------ binding rules

    def binding_rule_upsert(
        self,
        raw: dict,
        rule_id: str | None = None,
        partition: str = "default",
        authz: Authz = None,
    ) -> dict:
        """``PUT /v1/acl/binding-rule`` (create) and ``PUT /v1/acl/binding-rule/:id``, for
        an auth method of the same partition."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        partition = self._acl_partition(raw, partition)
        with self.write():
            rid = rule_id or raw.get("ID") or ""
            old = self._binding_rules.get(rid) if rid else None
            if old is not None and old.partition != partition:
                old = None
            if rid and old is None:
                raise BadRequest(f"Cannot find binding rule {rid}")
            method_name = raw.get("AuthMethod") or (old.auth_method if old else "")
            if not method_name:
                raise BadRequest("Invalid Binding Rule: no AuthMethod is set")
            method = self._auth_methods.get((partition, method_name))
            if method is None:
                raise BadRequest(f"Invalid Binding Rule: unknown auth method {method_name!r}")
            if old is not None and old.auth_method != method_name:
                raise BadRequest("Invalid Binding Rule: the AuthMethod field is immutable")
            bind_type, bind_name = raw.get("BindType", ""), raw.get("BindName", "")
            if bind_type not in _BIND_TYPES:
                raise BadRequest(
                    f"Invalid Binding Rule: unknown BindType {bind_type!r}"
                    if bind_type
                    else "Invalid Binding Rule: no BindType is set"
                )
            if not bind_name:
                raise BadRequest("Invalid Binding Rule: no BindName is set")
            known = {
                "value": {a: "x" for a in (method.config.get("ClaimMappings") or {}).values()},
            }
            try:
                sample = _interpolate(bind_name, known)
            except KeyError as exc:
                raise BadRequest(
                    f"Invalid Binding Rule: invalid BindName: unknown variable {exc.args[0]!r}"
                ) from exc
            if bind_type in ("service", "node") and not _IDENTITY_NAME.match(
                sample.replace("x", "a")
            ):
                raise BadRequest(f"Invalid Binding Rule: invalid BindName {bind_name!r}")
            selector = raw.get("Selector", "")
            if selector:
                try:
                    bexpr.compile_filter(selector)
                except bexpr.BexprError as exc:
                    raise BadRequest(f"Invalid Binding Rule: invalid Selector: {exc}") from exc
            rule = BindingRule(
                rid or str(uuid.uuid4()),
                method_name,
                bind_type,
                bind_name,
                raw.get("Description", ""),
                selector,
                partition,
            )
            self._binding_rules.put(rule.id, rule)
            return rule.to_dict()

    def binding_rule_get(
        self, rule_id: str, partition: str = "default", authz: Authz = None
    ) -> dict:
        """``GET /v1/acl/binding-rule/:id`` (403 ``ACL not found`` when unknown)."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            rule = self._binding_rules.get(rule_id)
            if rule is None or rule.partition != partition:
                raise ACLNotFound()
            return rule.to_dict()

    def binding_rule_list(
        self, auth_method: str = "", partition: str = "default", authz: Authz = None
    ) -> list[dict]:
        """``GET /v1/acl/binding-rules`` (``?authmethod=``) of one partition."""
        self._acl_guard(authz, "read")  # type: ignore[attr-defined]
        with self._lock:
            docs = [
                r.to_dict()
                for r in self._binding_rules.values()
                if r.partition == partition and (not auth_method or r.auth_method == auth_method)
            ]
        return sorted(docs, key=lambda d: d["CreateIndex"])

    def binding_rule_delete(
        self, rule_id: str, partition: str = "default", authz: Authz = None
    ) -> bool:
        """``DELETE /v1/acl/binding-rule/:id``."""
        self._acl_guard(authz, "write")  # type: ignore[attr-defined]
        with self.write():
            rule = self._binding_rules.get(rule_id)
            if rule is not None and rule.partition == partition:
                self._binding_rules.pop(rule_id, None)
        return True

    # ------------------------------------------------------------------ login, logout

    def acl_login(
        self, raw: dict, request_token: str | None = None, partition: str = "default"
    ) -> dict:
        """``POST /v1/acl/login[?partition=]``: validate ``BearerToken`` with the partition's
        ``AuthMethod``, bind, and create a token in that partition (the request must carry no
        token)."""
        from ..exceptions import ACLDisabled

        if not self.acl_enabled:
            raise ACLDisabled()
        name = raw.get("AuthMethod", "")
        bearer = raw.get("BearerToken", "")
        if not name and not bearer:
            raise RPCError("Invalid Login request: Missing auth parameters")
        if request_token:
            raise RPCError("do not provide a token when logging in")
        with self._lock:
            method = self._auth_methods.get((partition, name))
            if method is None:
                raise ACLNotFound()
            config = dict(method.config)
            rules = [
                r
                for r in self._binding_rules.values()
                if (r.partition, r.auth_method) == (partition, name)
            ]
        claims = validate_jwt(bearer, config)  # outside the lock: JWKSURL may be fetched
        variables = mapped_vars(claims, config)
        services: list[dict] = []
        nodes: list[dict] = []
        roles: list[dict] = []
        policies: list[dict] = []
        for rule in rules:
            if rule.selector and not bexpr.compile_filter(rule.selector)(variables):
                continue
            try:
                bound = _interpolate(rule.bind_name, variables)
            except KeyError:
                continue
            if rule.bind_type == "service" and _IDENTITY_NAME.match(bound):
                services.append({"ServiceName": bound})
            elif rule.bind_type == "node" and _IDENTITY_NAME.match(bound):
                nodes.append({"NodeName": bound, "Datacenter": self.datacenter})
            elif rule.bind_type == "role":
                roles.append({"Name": bound})
            elif rule.bind_type == "policy":
                policies.append({"Name": bound})
        with self.write():
            role_links = [
                link
                for want in roles
                for link in self._links_or_none(self._roles, want, lambda r: r.name)
            ]
            policy_links = [
                link
                for want in policies
                for link in self._links_or_none(self._policies, want, lambda p: p.name)  # type: ignore[attr-defined]
            ]
            if not (services or nodes or role_links or policy_links):
                raise PermissionDeniedPlain()
            description = "token created via login"
            if raw.get("Meta"):
                description += ": " + json.dumps(raw["Meta"], separators=(",", ":"), sort_keys=True)
            now = time.time()
            token = Token(
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                description,
                policy_links,
                _dedupe(services),
                _dedupe(nodes),
                local=method.token_locality != "global",
                create_time=now_iso(),
                partition=partition,
                roles=role_links,
                auth_method=name,
                expiration_time=(
                    _rfc3339(now + parse_duration(method.max_token_ttl))
                    if method.max_token_ttl
                    else ""
                ),
            )
            self._tokens.put(token.accessor_id, token)  # type: ignore[attr-defined]
            return token.to_dict()

    def _links_or_none(self, table: Any, want: dict, name_of: Any) -> list[dict[str, str]]:
        found = next((r for r in table.values() if name_of(r) == want["Name"]), None)
        return [{"ID": found.id, "Name": name_of(found)}] if found is not None else []

    def acl_logout(self, secret: str | None) -> bool:
        """``POST /v1/acl/logout``: delete the login token the request carries."""
        from ..exceptions import ACLDisabled

        if not self.acl_enabled:
            raise ACLDisabled()
        if not secret:
            raise ACLNotFound()
        with self.write():
            token = self._token_by_secret(secret)  # type: ignore[attr-defined]
            if token is None:
                raise ACLNotFound()
            if not token.auth_method:
                raise PermissionDeniedPlain()
            self._tokens.pop(token.accessor_id, None)  # type: ignore[attr-defined]
        return True


def _dedupe(items: list[dict]) -> list[dict]:
    out: list[dict] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _template_doc(name: str) -> dict[str, str]:
    _tid, schema, template, desc = TEMPLATES[name]
    return {"TemplateName": name, "Schema": schema, "Template": template, "Description": desc}


def _service_identities(raw: list[dict] | None, what: str = "Token") -> list[dict[str, Any]]:
    out = []
    for s in raw or []:
        name = s.get("ServiceName", "")
        if not name:
            continue
        if not _IDENTITY_NAME.match(name):
            raise BadRequest(
                f"Invalid {what}: Service identity {name!r} has an invalid name. Only lowercase"
                " alphanumeric characters, '-' and '_' are allowed"
            )
        out.append(
            {"ServiceName": name}
            | ({"Datacenters": list(s["Datacenters"])} if s.get("Datacenters") else {})
        )
    return out


def _node_identities(raw: list[dict] | None, datacenter: str) -> list[dict[str, Any]]:
    return [
        {"NodeName": n["NodeName"], "Datacenter": n.get("Datacenter", datacenter)}
        for n in raw or []
        if n.get("NodeName")
    ]


__all__ = [
    "TEMPLATES",
    "ACLAuthState",
    "JWTError",
    "PermissionDeniedPlain",
    "go_duration",
    "mapped_vars",
    "render_template",
    "validate_jwt",
]
