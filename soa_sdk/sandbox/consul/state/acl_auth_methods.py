"""Auth methods of type ``jwt``, per admin partition, and their binding rules
(``Selector`` in go-bexpr over ``value.*``/``list.*``, ``BindName`` with ``${value.x}``).

Not implemented: other auth method types (refused with a 400 that says so),
``OIDCDiscoveryURL`` (refused), the ``templated-policy`` bind type and ``BindVars``,
``NamespaceRules``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .. import bexpr
from ..checks import go_duration, parse_duration
from ..exceptions import ACLNotFound, BadRequest
from .acl_fields import IDENTITY_NAME, TOKEN_MAX_TTL, TOKEN_MIN_TTL
from .core import Authz, Store
from .records import AuthMethod, BindingRule

_BIND_VAR = re.compile(r"\$\{([^}]*)\}")
_BIND_TYPES = ("service", "node", "role", "policy")


def interpolate(bind_name: str, variables: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        ref = m.group(1).strip()
        kind, _, attr = ref.partition(".")
        value = variables.get(kind, {}).get(attr) if kind == "value" else None
        if value is None:
            raise KeyError(ref)
        return str(value)

    return _BIND_VAR.sub(sub, bind_name)


class AuthMethodState(Store):
    """Auth methods (table ``_auth_methods``, keyed by partition and name) and binding
    rules (``_binding_rules``), both under the ``acl`` index."""

    _auth_methods: Any
    _binding_rules: Any
    acl_token_min_ttl: float = TOKEN_MIN_TTL
    acl_token_max_ttl: float = TOKEN_MAX_TTL

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
                sample = interpolate(bind_name, known)
            except KeyError as exc:
                raise BadRequest(
                    f"Invalid Binding Rule: invalid BindName: unknown variable {exc.args[0]!r}"
                ) from exc
            if bind_type in ("service", "node") and not IDENTITY_NAME.fullmatch(
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
