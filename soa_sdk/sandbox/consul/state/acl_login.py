"""The tokens made without a token: ``PUT /v1/acl/bootstrap`` (once), ``POST /v1/acl/login``
(a bearer JWT validated by the partition's auth method, then bound by its binding rules)
and ``POST /v1/acl/logout`` (only a login's token).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .. import bexpr
from ..checks import parse_duration
from ..exceptions import ACLNotFound, ConsulError, RPCError
from ..jwt_auth import validate_jwt
from .acl_auth_methods import interpolate
from .acl_fields import IDENTITY_NAME, dedupe, rfc3339
from .core import GLOBAL_MANAGEMENT_ID, Store, now_iso
from .records import Token


class PermissionDeniedPlain(ConsulError):
    """403 ``Permission denied`` (``acl.ErrPermissionDenied``, no detail), or with a cause."""

    code = 403

    def __init__(self, cause: str = "") -> None:
        super().__init__("Permission denied" + (f": {cause}" if cause else ""))


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


class LoginState(Store):
    """Bootstrap, login and logout (they write the ``_tokens`` of :mod:`.acl`)."""

    _acl_bootstrap_index: int

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
                bound = interpolate(rule.bind_name, variables)
            except KeyError:
                continue
            if rule.bind_type == "service" and IDENTITY_NAME.fullmatch(bound):
                services.append({"ServiceName": bound})
            elif rule.bind_type == "node" and IDENTITY_NAME.fullmatch(bound):
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
                dedupe(services),
                dedupe(nodes),
                local=method.token_locality != "global",
                create_time=now_iso(),
                partition=partition,
                roles=role_links,
                auth_method=name,
                expiration_time=(
                    rfc3339(now + parse_duration(method.max_token_ttl))
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
