"""The ACL token ``shared_services/consul`` runs with in the sandbox: least privilege, short-lived.

The folder's provider block takes its token from ``CONSUL_HTTP_TOKEN``, as the real provider
reads it. Rather than hand it the sandbox's management token, :func:`mint` makes a policy
granting what the folder's resources need and nothing else, and a token of that policy that
expires (``ExpirationTTL``), as an operator would give a CI pipeline:

- ``operator = "write"``: admin partitions (``/v1/partition``);
- in each partition of the mesh (the runtimes' ``consul_partition``): ``mesh = "write"`` for
  ``exported-services``, ``service_prefix "" { policy = "write" intentions = "write" }`` for
  service-defaults / resolvers / splitters (``service:write``) and service-intentions
  (``intentions:write``). No ``acl``, ``key``, ``node`` or ``agent`` rule.

The partitions come from the runtimes' specifications in the Terraform root the folder is
applied from (:func:`soa_sdk.tf.lab_spec.load_mesh`): from step 5's copy of ``terraform/`` the
new runtime's partition is covered too, and once it is gone the next token no longer covers it.
The policy is named after its set of partitions (``soa-lab-terraform-consul-<digest>``) and
never rewritten, so a runner of one root never narrows a live token of another;
:func:`revoke` deletes it with the last token that holds it. The sandbox's Consul grants
``partition "<name>"`` blocks to a token of the default partition as Consul Enterprise does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import requests

from soa_sdk.tf.lab_spec import load_mesh

POLICY = "soa-lab-terraform-consul"
"""The policies' name prefix (:func:`policy_name`)."""
TTL = "8h"
TIMEOUT = 10.0


def rules(partitions: list[str]) -> str:
    """The policy's rules (Consul's HCL)."""
    blocks = [
        f'partition "{name}" {{\n'
        '  mesh = "write"\n'
        '  service_prefix "" {\n    policy     = "write"\n    intentions = "write"\n  }\n'
        "}\n"
        for name in partitions
    ]
    return 'operator = "write"\n' + "".join(blocks)


def policy_name(partitions: list[str]) -> str:
    """The policy of a set of partitions: the same set, the same policy."""
    digest = hashlib.sha256(",".join(sorted(set(partitions))).encode()).hexdigest()[:12]
    return f"{POLICY}-{digest}"


@dataclass(frozen=True)
class ConsulToken:
    accessor_id: str
    secret_id: str
    policy: str


def _call(method: str, url: str, management: str, body: object = None) -> requests.Response:
    return requests.request(
        method, url, json=body, headers={"X-Consul-Token": management}, timeout=TIMEOUT
    )


def mint(address: str, management_token: str, description: str, root: Path) -> ConsulToken:
    """The policy for the partitions ``root`` declares (made if missing); a new token of it."""
    partitions = sorted({r.consul_partition for r in load_mesh(root).runtimes})
    name = policy_name(partitions)
    found = _call("GET", f"{address}/v1/acl/policy/name/{name}", management_token)
    # Consul answers a policy name it does not have with 403 "ACL not found".
    if found.status_code == 404 or "ACL not found" in found.text:
        policy = {
            "Name": name,
            "Description": f"Terraform: shared_services/consul, partitions {', '.join(partitions)}",
            "Rules": rules(partitions),
        }
        _call("PUT", f"{address}/v1/acl/policy", management_token, policy).raise_for_status()
    else:
        found.raise_for_status()
    token = _call(
        "PUT",
        f"{address}/v1/acl/token",
        management_token,
        {"Description": description, "Policies": [{"Name": name}], "ExpirationTTL": TTL},
    )
    token.raise_for_status()
    document = token.json()
    return ConsulToken(document["AccessorID"], document["SecretID"], name)


def revoke(address: str, management_token: str, token: ConsulToken) -> None:
    """Delete the token, and its policy if no other token holds it; a Consul already gone
    (the sandbox stopped first) took them along, and a token left behind expires on its own."""
    try:
        _call("DELETE", f"{address}/v1/acl/token/{token.accessor_id}", management_token)
        tokens = _call("GET", f"{address}/v1/acl/tokens", management_token)
        tokens.raise_for_status()
        held = any(
            policy.get("Name") == token.policy
            for listed in tokens.json()
            for policy in listed.get("Policies") or ()
        )
        found = _call("GET", f"{address}/v1/acl/policy/name/{token.policy}", management_token)
        if not held and found.ok:
            _call("DELETE", f"{address}/v1/acl/policy/{found.json()['ID']}", management_token)
    except requests.RequestException:
        pass
