"""ACLs: policies, tokens, and resolving a request's token into an authorizer (the rules
language is :mod:`..acl`; roles, templated policies, auth methods, binding rules, bootstrap
and login are :mod:`.acl_auth`). A token's ``ExpirationTTL``/``ExpirationTime`` bound its
life: an expired token no longer resolves (``ACL not found``) and no read shows it.
"""

from __future__ import annotations

import time
import uuid

from .. import acl as aclmod
from ..checks import go_duration, parse_duration
from ..exceptions import ACLDisabled, ACLNotFound, BadRequest, RPCError
from .acl_auth import ACLAuthState
from .acl_fields import (
    node_identities,
    parse_rfc3339,
    rfc3339,
    service_identities,
)
from .acl_templates import templated_policies
from .core import ANONYMOUS_ID, GLOBAL_MANAGEMENT_ID, Authz, now_iso
from .records import Policy, Token


def _expired(token: Token, now: float | None = None) -> bool:
    return bool(token.expiration_time) and parse_rfc3339(token.expiration_time) <= (
        time.time() if now is None else now
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class ACLState(ACLAuthState):
    """Policies by ID, tokens by AccessorID; parsed rules cached per policy."""

    initial_management_token: str | None
    _rules_cache: dict[str, aclmod.Rules]

    def _init_acl(self) -> None:
        self._rules_cache = {}
        # an agent started with an initial management token is bootstrapped already
        self._acl_bootstrap_index = self.index if self.initial_management_token else 0
        self._policies.put(
            GLOBAL_MANAGEMENT_ID,
            Policy(
                GLOBAL_MANAGEMENT_ID,
                "global-management",
                "Builtin Policy that grants unlimited access",
            ),
        )
        self._tokens.put(
            ANONYMOUS_ID, Token(ANONYMOUS_ID, "anonymous", "Anonymous Token", create_time=now_iso())
        )
        if self.initial_management_token:
            accessor = str(uuid.uuid5(uuid.NAMESPACE_OID, "initial-management"))
            link = {"ID": GLOBAL_MANAGEMENT_ID, "Name": "global-management"}
            token = Token(
                accessor,
                self.initial_management_token,
                "Initial Management Token",
                [link],
                create_time=now_iso(),
            )
            self._tokens.put(accessor, token)

    # ------------------------------------------------------------------ resolution

    def authorize(self, secret: str | None) -> aclmod.Authorizer:
        """Resolve a request's token into an authorizer (anonymous when it carries none)."""
        if not self.acl_enabled:
            return aclmod.Authorizer(ANONYMOUS_ID, None, management=True)
        with self._lock:
            # a request with no token uses the agent's default token when one is set
            secret = secret or getattr(self, "_agent_tokens", {}).get("default") or None
            token = self._token_by_secret(secret) if secret else self._tokens[ANONYMOUS_ID]
            if token is None:
                raise ACLNotFound()
            return self._authorizer_for(token)

    def _token_by_secret(self, secret: str) -> Token | None:
        """The live token with this SecretID (an expired one is as good as none)."""
        found = next((t for t in self._tokens.values() if t.secret_id == secret), None)
        return None if found is None or _expired(found) else found

    def _authorizer_for(self, token: Token) -> aclmod.Authorizer:
        ids = [p["ID"] for p in token.policies]
        parts = self._identity_rules(
            token.policies, token.service_identities, token.node_identities,
            token.templated_policies,
        )  # fmt: skip
        role_parts, role_management = self._role_rules(token)
        return aclmod.Authorizer(
            token.accessor_id,
            aclmod.merge(parts + role_parts),
            management=GLOBAL_MANAGEMENT_ID in ids or role_management,
            home_partition=token.partition or "default",
        )

    def _policy_rules(self, policy_id: str) -> aclmod.Rules:
        if policy_id not in self._rules_cache:
            self._rules_cache[policy_id] = aclmod.parse_rules(self._policies[policy_id].rules)
        return self._rules_cache[policy_id]

    def _acl_guard(self, authz: Authz, level: str) -> None:
        if not self.acl_enabled:
            raise ACLDisabled()
        self._require(authz, "acl", level)

    # ------------------------------------------------------------------ policies

    def policy_upsert(self, raw: dict, policy_id: str | None = None, authz: Authz = None) -> dict:
        """``PUT /v1/acl/policy`` (create) and ``PUT /v1/acl/policy/:id`` (update)."""
        self._acl_guard(authz, "write")
        name, rules = raw.get("Name", ""), raw.get("Rules", "")
        if not name:
            raise BadRequest("Invalid Policy: no Name is set")
        try:
            aclmod.parse_rules(rules)
        except aclmod.RulesError as exc:
            raise BadRequest(f"Invalid Policy: Failed to parse ACL rules: {exc}") from exc
        with self.write():
            pid = policy_id or raw.get("ID") or ""
            if pid and pid not in self._policies:
                raise BadRequest(f"Invalid Policy: ID {pid!r} does not exist")
            if any(p.name == name and p.id != pid for p in self._policies.values()):
                raise BadRequest(f"Invalid Policy: A Policy with Name {name!r} already exists")
            if pid == GLOBAL_MANAGEMENT_ID and rules != "":
                raise BadRequest(
                    "Changing the Rules for the builtin global-management policy is not permitted"
                )
            pid = pid or str(uuid.uuid4())
            policy = Policy(
                pid, name, raw.get("Description", ""), rules, raw.get("Datacenters") or None
            )
            self._policies.put(pid, policy)
            self._rules_cache.pop(pid, None)
            for token in self._tokens.values():
                for link in token.policies:
                    if link["ID"] == pid:
                        link["Name"] = name
            return policy.to_dict()

    def policy_get(
        self, policy_id: str | None = None, name: str | None = None, authz: Authz = None
    ) -> dict:
        """``GET /v1/acl/policy/:id`` or ``/v1/acl/policy/name/:name`` (403 ``ACL not found``
        when there is none, as Consul)."""
        self._acl_guard(authz, "read")
        wanted = {"ID": policy_id, "Name": name}
        found = self._docs(
            self._policies, where=lambda p: wanted["ID"] == p.id or wanted["Name"] == p.name
        )
        if not found:
            raise ACLNotFound()  # Consul: 403 "ACL not found" for an unknown policy
        return found[0]

    def policy_list(self, authz: Authz = None) -> list[dict]:
        """``GET /v1/acl/policies`` (stubs: no Rules)."""
        self._acl_guard(authz, "read")
        docs = self._docs(self._policies, doc=lambda p: p.to_dict(with_rules=False))
        return sorted(docs, key=lambda p: p["Name"])

    def policy_delete(self, policy_id: str, authz: Authz = None) -> bool:
        """``DELETE /v1/acl/policy/:id``."""
        self._acl_guard(authz, "write")
        if policy_id == GLOBAL_MANAGEMENT_ID:
            raise BadRequest(
                "Delete operation not permitted on the builtin global-management policy"
            )
        with self.write():
            if self._policies.pop(policy_id, None) is None:
                return True
            self._rules_cache.pop(policy_id, None)
            for token in self._tokens.values():
                token.policies = [p for p in token.policies if p["ID"] != policy_id]
        return True

    def _resolve_policy_links(self, links: list[dict]) -> list[dict[str, str]]:
        out = []
        for link in links or []:
            found = None
            for policy in self._policies.values():
                if (link.get("ID") and policy.id == link["ID"]) or (
                    not link.get("ID") and policy.name == link.get("Name")
                ):
                    found = policy
            if found is None:
                raise BadRequest(f"No such ACL policy: {link.get('ID') or link.get('Name')}")
            out.append({"ID": found.id, "Name": found.name})
        return out

    # ------------------------------------------------------------------ tokens

    def token_upsert(self, raw: dict, accessor_id: str | None = None, authz: Authz = None) -> dict:
        """``PUT /v1/acl/token`` (create) and ``PUT /v1/acl/token/:AccessorID`` (update)."""
        self._acl_guard(authz, "write")
        with self.write():
            policies = self._resolve_policy_links(raw.get("Policies") or [])
            roles = self._resolve_links(self._roles, raw.get("Roles") or [], "role", _name)
            templated = templated_policies(raw.get("TemplatedPolicies"))
            services = service_identities(raw.get("ServiceIdentities"))
            nodes = node_identities(raw.get("NodeIdentities"), self.datacenter)
            acc = accessor_id or raw.get("AccessorID") or ""
            old = self._tokens.get(acc) if acc else None
            if old is not None and _expired(old):
                old = None
            if accessor_id and old is None:
                raise BadRequest(f"Cannot find token {accessor_id!r}")
            expiration = old.expiration_time if old else self._expiration(raw)
            if old is None and acc and not _is_uuid(acc):
                raise BadRequest("Invalid Token: AccessorID must be a UUID")
            secret = (old.secret_id if old else "") or raw.get("SecretID") or str(uuid.uuid4())
            if old is None and self._token_by_secret(secret) is not None:
                raise BadRequest("Invalid Token: SecretID is already in use")
            partition = raw.get("Partition") or "default"
            if partition not in self._partitions:
                raise BadRequest(f'Partition "{partition}" does not exist')
            token = Token(
                acc or str(uuid.uuid4()),
                secret,
                raw.get("Description", ""),
                policies,
                services,
                nodes,
                local=bool(raw.get("Local", False)),
                create_time=old.create_time if old else now_iso(),
                partition=partition,
                roles=roles,
                templated_policies=templated,
                expiration_time=expiration,
                auth_method=old.auth_method if old else "",
            )
            self._tokens.put(token.accessor_id, token)
            return token.to_dict()

    def token_get(self, accessor_id: str, authz: Authz = None) -> dict:
        """``GET /v1/acl/token/:AccessorID`` (403 ``ACL not found`` when unknown, as Consul)."""
        self._acl_guard(authz, "read")
        with self._lock:
            token = self._tokens.get(accessor_id)
            if token is None or _expired(token):
                raise ACLNotFound()
            return token.to_dict(show_secret=self._allowed(authz, "acl", "write"))

    def token_clone(self, accessor_id: str, raw: dict, authz: Authz = None) -> dict:
        """``PUT /v1/acl/token/:AccessorID/clone``: a new token with the same links (and
        ``Description`` from the body when given)."""
        self._acl_guard(authz, "write")
        with self.write():
            token = self._tokens.get(accessor_id)
            if token is None or _expired(token):
                raise ACLNotFound()
            body = token.to_dict()
            body.pop("AccessorID"), body.pop("SecretID")
            body.pop("ExpirationTime", None)  # a clone gets a TTL of its own, if any
            if raw.get("Description"):
                body["Description"] = raw["Description"]
            return self.token_upsert(body, None, authz)

    def token_self(self, secret: str | None) -> dict:
        """``GET /v1/acl/token/self``: the token the request carries (no ACL needed)."""
        if not self.acl_enabled:
            raise ACLDisabled()
        with self._lock:
            token = self._token_by_secret(secret) if secret else None
            if token is None:
                raise ACLNotFound()
            return token.to_dict()

    def token_list(self, authz: Authz = None) -> list[dict]:
        """``GET /v1/acl/tokens`` (the list carries SecretIDs only for acl:write, as Consul)."""
        self._acl_guard(authz, "read")
        show = self._allowed(authz, "acl", "write")
        docs = self._docs(
            self._tokens,
            where=lambda t: not _expired(t),
            doc=lambda t: t.to_dict(show_secret=show),
        )
        return sorted(docs, key=lambda t: t["CreateIndex"])

    def _expiration(self, raw: dict) -> str:
        """A new token's ``ExpirationTime`` from ``ExpirationTTL`` or ``ExpirationTime``
        (``agent/consul/acl_endpoint.go`` tokenSetInternal's checks and texts)."""
        ttl_raw, when_raw = raw.get("ExpirationTTL"), raw.get("ExpirationTime")
        now = time.time()
        try:
            ttl = parse_duration(ttl_raw) if ttl_raw else 0.0
        except ValueError as exc:
            raise BadRequest(f"Request decode failed: {exc}") from exc
        if ttl < 0:
            raise RPCError(f"Token Expiration TTL '{go_duration(-ttl)}' should be > 0")
        if ttl and when_raw:
            raise RPCError("Token Expiration TTL and Expiration Time cannot both be set")
        if not ttl and not when_raw:
            return ""
        expires = now + ttl if ttl else parse_rfc3339(str(when_raw))
        if expires < now:
            raise RPCError("ExpirationTime cannot be before CreateTime")
        expires_in = expires - now
        if expires_in > self.acl_token_max_ttl + 0.001:
            raise RPCError(
                f"ExpirationTime cannot be more than {go_duration(self.acl_token_max_ttl)} in"
                f" the future (was {go_duration(expires_in)})"
            )
        if expires_in < self.acl_token_min_ttl - 0.001:
            raise RPCError(
                f"ExpirationTime cannot be less than {go_duration(self.acl_token_min_ttl)} in"
                f" the future (was {go_duration(expires_in)})"
            )
        return rfc3339(expires)

    def token_delete(self, accessor_id: str, authz: Authz = None) -> bool:
        """``DELETE /v1/acl/token/:AccessorID``."""
        self._acl_guard(authz, "write")
        if accessor_id == ANONYMOUS_ID:
            raise BadRequest("Delete operation not permitted on the anonymous token")
        with self.write():
            self._tokens.pop(accessor_id, None)
        return True


def _name(record: object) -> str:
    return record.name  # type: ignore[attr-defined]
