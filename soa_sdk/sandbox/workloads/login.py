"""``ConsulLogin``: the sandbox's workloads get their Consul tokens by logging in.

In the talk, ECS tasks and EKS pods log in to Consul with an auth method (``aws-iam`` with the
task's IAM role, ``kubernetes`` with the pod's service account token), and Consul's binding
rules turn the verified identity into a token with that service's identity. The sandbox does
the same with Consul's ``jwt`` auth method and OpenBao identity tokens standing in for the
task role and the service account token:

- in OpenBao (Vault's API, https://openbao.org/api-docs/secret/identity/tokens/): the key
  :data:`TOKEN_KEY` and the role :data:`TOKEN_ROLE`, whose ``client_id`` (the tokens' ``aud``)
  is :data:`AUDIENCE` and whose template puts the entity's ``service`` and ``partition``
  metadata into the token; per service and partition an entity with that metadata and an
  AppRole allowed to mint that role's tokens (:meth:`WorkloadIdentity.create_workload`);
- in Consul, in each partition that runs workloads (as consul-ecs's ACL controller creates
  its auth methods in every partition): the ``jwt`` auth method :data:`AUTH_METHOD`
  (``JWKSURL`` = OpenBao's ``.../identity/oidc/.well-known/keys`` at the address Consul
  reaches, ``BoundIssuer`` = the tokens' ``iss`` as OpenBao's discovery document names it,
  ``BoundAudiences`` = [:data:`AUDIENCE`], ``ClaimMappings`` ``service`` and
  ``partition``) and one binding rule: ``BindType: service``, ``BindName: ${value.service}``,
  ``Selector: value.partition == "<partition>"`` (a token minted for another partition binds
  nothing there: 403 ``Permission denied``);
- per start request (:meth:`credentials`): the service's AppRole logs in with a fresh
  single-use secret id (the orchestrator's part: the ECS agent handing a task its role
  credentials, the kubelet projecting a service account token), mints an identity token and
  revokes its Vault token again. The workload host logs each instance in with that JWT
  (``POST /v1/acl/login``) and out when it stops (:mod:`.host`).

Setting the auth method up needs a Consul token with ``acl:write`` (the sandbox's
management token, as consul-ecs's controller has one) and a Vault token allowed to manage
identity, AppRole and policies (the sandbox's root token); neither ever reaches the host.

Left out: the ``aws-iam`` and ``kubernetes`` methods themselves (the emulator serves ``jwt``
only), re-logging in when a token would expire (the auth method sets no ``MaxTokenTTL``, as
consul-ecs's does not), and the controller's reaping of tokens whose workload died without
logging out (the host logs every instance out when it stops, also on ``SIGTERM``).
"""

from __future__ import annotations

import json
from typing import Any

import hvac
import requests

from soa_sdk.errors import AccessDenied, ServiceUnavailable
from soa_sdk.vault.identity import Workload, WorkloadIdentity, token_issuer

AUTH_METHOD = "openbao-workloads"
AUDIENCE = "consul"
TOKEN_KEY = "consul-workloads"
TOKEN_ROLE = "consul-workload"
APPROLE_MOUNT = "approle-workloads"
TOKEN_TTL = "5m"
#: the claims the role adds: the entity's metadata, which :meth:`ConsulLogin._workload` sets
TEMPLATE = (
    '{"service": {{identity.entity.metadata.service}},'
    ' "partition": {{identity.entity.metadata.partition}}}'
)


def auth_method(vault_url: str, issuer: str | None = None) -> dict[str, Any]:
    """The ``jwt`` auth method that trusts OpenBao's identity tokens for :data:`AUDIENCE`:
    their ``iss`` is ``issuer`` (what OpenBao's discovery document names: its public, TLS
    address), their keys are fetched from ``vault_url`` (the address Consul reaches)."""
    keys = f"{token_issuer(vault_url)}/.well-known/keys"
    issuer = issuer or token_issuer(vault_url)
    return {
        "Name": AUTH_METHOD,
        "Type": "jwt",
        "DisplayName": "OpenBao workload identity",
        "Description": "Workloads log in with an OpenBao identity token of their service",
        "Config": {
            "JWKSURL": keys,
            "BoundIssuer": issuer,
            "BoundAudiences": [AUDIENCE],
            "ClaimMappings": {"service": "service", "partition": "partition"},
        },
    }


def binding_rule(partition: str) -> dict[str, Any]:
    """The rule that gives a login the identity of the token's service, in its partition."""
    return {
        "AuthMethod": AUTH_METHOD,
        "Description": f"the service identity of the token's service, for {partition}",
        "BindType": "service",
        "BindName": "${value.service}",
        "Selector": f"value.partition == {json.dumps(partition)}",
    }


class ConsulLogin:
    """Sets up the auth method, binding rule and workload identities; gives each start
    request a login (``{"auth_method", "bearer_token"}``) for the workload host."""

    def __init__(
        self,
        consul_addr: str,
        consul_token: str | None,
        vault_addr: str,
        vault_token: str | None,
        timeout: float = 30.0,
    ) -> None:
        self.consul_addr = consul_addr.rstrip("/")
        self.vault_addr = vault_addr.rstrip("/")
        self.timeout = timeout
        self._consul = requests.Session()
        if consul_token:
            self._consul.headers["X-Consul-Token"] = consul_token
        self._vault = hvac.Client(url=self.vault_addr, token=vault_token, timeout=int(timeout))
        self._identity = WorkloadIdentity(self._vault, approle_mount=APPROLE_MOUNT)
        self._token_role = False
        self._workloads: dict[tuple[str, str], Workload] = {}

    def __repr__(self) -> str:
        return f"ConsulLogin({self.consul_addr!r}, {self.vault_addr!r})"

    def credentials(self, service: str, partition: str = "default") -> dict[str, str]:
        """A login for instances of ``service`` in ``partition``: the auth method's name and
        a fresh identity token of the service (the auth method ensured first)."""
        self.ensure_auth_method(partition)
        workload = self._workload(service, partition)
        client = self._identity.login(workload)
        try:
            token = self._identity.mint_token(TOKEN_ROLE, client)
        finally:
            client.auth.token.revoke_self()
        return {"auth_method": AUTH_METHOD, "bearer_token": token.token}

    # -- Consul ------------------------------------------------------------------------------
    def ensure_auth_method(self, partition: str = "default") -> None:
        """The auth method (``GET``, and ``PUT /v1/acl/auth-method`` unless it is there as
        wanted) and its binding rule (``GET /v1/acl/binding-rules``, ``PUT
        /v1/acl/binding-rule`` unless there), both in ``partition``; safe to run again."""
        params = {"partition": partition}
        method = auth_method(self.vault_addr, self._identity.discovery()["issuer"])
        found = self._call(
            "GET", f"/v1/acl/auth-method/{AUTH_METHOD}", "read the workloads' auth method",
            params=params, missing_ok=True,
        )  # fmt: skip
        if not found or any(found.get(k) != method[k] for k in ("Type", "Config")):
            self._call("PUT", "/v1/acl/auth-method", "set up the workloads' auth method",
                       method, params)  # fmt: skip
        rule = binding_rule(partition)
        rules = self._call(
            "GET",
            "/v1/acl/binding-rules",
            "read the workloads' binding rules",
            params={**params, "authmethod": AUTH_METHOD},
        )
        wanted = ("BindType", "BindName", "Selector")
        if not any(all(r.get(k) == rule[k] for k in wanted) for r in rules or []):
            self._call("PUT", "/v1/acl/binding-rule", "add the workloads' binding rule",
                       rule, params)  # fmt: skip

    def _call(
        self,
        method: str,
        path: str,
        doing: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """One Consul request; with ``missing_ok`` Consul's 403 ``ACL not found`` (how it
        answers a read of an unknown ACL object) is None."""
        try:
            resp = self._consul.request(
                method, self.consul_addr + path, json=body, params=params, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise ServiceUnavailable(
                f"Consul did not answer when asked to {doing} ({error})."
            ) from None
        if missing_ok and (resp.status_code, resp.text.strip()) == (403, "ACL not found"):
            return None
        if resp.status_code == 403:
            raise AccessDenied(
                f"Consul refused to {doing}: {resp.text.strip()}. The lab's Consul token "
                "needs acl:write to set up the auth method the workloads log in with."
            )
        if resp.status_code >= 300:
            raise ServiceUnavailable(
                f"Consul could not {doing} ({resp.status_code}: {resp.text.strip()[:200]})."
            )
        return resp.json() if resp.content else None

    # -- OpenBao -----------------------------------------------------------------------------
    def _workload(self, service: str, partition: str) -> Workload:
        """The service's Vault identity in ``partition`` (made once per client)."""
        key = (partition, service)
        if key not in self._workloads:
            if not self._token_role:
                # The issuer stays OpenBao's own (its api_addr, or shared_services/vault's).
                self._identity.create_key(TOKEN_KEY, allowed_client_ids=[AUDIENCE])
                self._identity.create_role(
                    TOKEN_ROLE, key=TOKEN_KEY, audience=AUDIENCE, ttl=TOKEN_TTL, template=TEMPLATE
                )
                self._token_role = True
            self._workloads[key] = self._identity.create_workload(
                f"consul-{partition}-{service}",
                TOKEN_ROLE,
                token_ttl="1m",
                metadata={"service": service, "partition": partition},
            )
        return self._workloads[key]


__all__ = ["AUDIENCE", "AUTH_METHOD", "ConsulLogin", "auth_method", "binding_rule"]
