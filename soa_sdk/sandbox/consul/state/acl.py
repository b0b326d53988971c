"""ACLs: policies, tokens, and resolving a request's token into an authorizer (the rules
language is :mod:`..acl`; roles, auth methods and binding rules are not implemented).
"""

from __future__ import annotations

import uuid

from .. import acl as aclmod
from ..exceptions import ACLDisabled, ACLNotFound, BadRequest
from .core import ANONYMOUS_ID, GLOBAL_MANAGEMENT_ID, Authz, Store, now_iso
from .records import Policy, Token


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class ACLState(Store):
    """Policies by ID, tokens by AccessorID; parsed rules cached per policy."""

    initial_management_token: str | None
    _rules_cache: dict[str, aclmod.Rules]

    def _init_acl(self) -> None:
        self._rules_cache = {}
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
        return next((t for t in self._tokens.values() if t.secret_id == secret), None)

    def _authorizer_for(self, token: Token) -> aclmod.Authorizer:
        ids = [p["ID"] for p in token.policies]
        parts = [self._policy_rules(pid) for pid in ids if pid in self._policies]
        parts += [aclmod.service_identity_rules(i["ServiceName"]) for i in token.service_identities]
        parts += [aclmod.node_identity_rules(i["NodeName"]) for i in token.node_identities]
        return aclmod.Authorizer(
            token.accessor_id,
            aclmod.merge(parts),
            management=GLOBAL_MANAGEMENT_ID in ids,
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
            services = [
                {"ServiceName": s["ServiceName"]}
                | ({"Datacenters": list(s["Datacenters"])} if s.get("Datacenters") else {})
                for s in raw.get("ServiceIdentities") or []
                if s.get("ServiceName")
            ]
            nodes = [
                {"NodeName": n["NodeName"], "Datacenter": n.get("Datacenter", self.datacenter)}
                for n in raw.get("NodeIdentities") or []
                if n.get("NodeName")
            ]
            acc = accessor_id or raw.get("AccessorID") or ""
            old = self._tokens.get(acc) if acc else None
            if accessor_id and old is None:
                raise BadRequest(f"Cannot find token {accessor_id!r}")
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
            )
            self._tokens.put(token.accessor_id, token)
            return token.to_dict()

    def token_get(self, accessor_id: str, authz: Authz = None) -> dict:
        """``GET /v1/acl/token/:AccessorID`` (403 ``ACL not found`` when unknown, as Consul)."""
        self._acl_guard(authz, "read")
        with self._lock:
            token = self._tokens.get(accessor_id)
            if token is None:
                raise ACLNotFound()
            return token.to_dict(show_secret=self._allowed(authz, "acl", "write"))

    def token_clone(self, accessor_id: str, raw: dict, authz: Authz = None) -> dict:
        """``PUT /v1/acl/token/:AccessorID/clone``: a new token with the same links (and
        ``Description`` from the body when given)."""
        self._acl_guard(authz, "write")
        with self.write():
            token = self._tokens.get(accessor_id)
            if token is None:
                raise ACLNotFound()
            body = token.to_dict()
            body.pop("AccessorID"), body.pop("SecretID")
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
        docs = self._docs(self._tokens, doc=lambda t: t.to_dict(show_secret=show))
        return sorted(docs, key=lambda t: t["CreateIndex"])

    def token_delete(self, accessor_id: str, authz: Authz = None) -> bool:
        """``DELETE /v1/acl/token/:AccessorID``."""
        self._acl_guard(authz, "write")
        if accessor_id == ANONYMOUS_ID:
            raise BadRequest("Delete operation not permitted on the anonymous token")
        with self.write():
            self._tokens.pop(accessor_id, None)
        return True
