"""Routes: Consul's HTTP paths to handlers, with what each leaves out.

:data:`ROUTES` is the single registry: the server builds its URL map from it and
``not_implemented`` builds its report from it (``missing`` lists the query parameters or
fields of that endpoint which the sandbox ignores or refuses). :data:`UNROUTED` names the
Consul endpoint families the sandbox does not serve at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from werkzeug.routing import Map, Rule

from . import responses as r


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    handler: Callable[[r.Call], r.Reply]
    missing: tuple[str, ...] = ()
    sandbox_only: bool = False


_READ = ("stale", "consistent", "cached", "near", "node-meta")

ROUTES: tuple[Route, ...] = (
    # agent
    Route(
        "/v1/agent/service/register",
        ("PUT",),
        r.agent_service_register,
        ("Locality", "Connect.SidecarService default checks"),
    ),
    Route("/v1/agent/service/deregister/<service_id>", ("PUT",), r.agent_service_deregister),
    Route("/v1/agent/services", ("GET",), r.agent_services),
    Route(
        "/v1/agent/service/<service_id>",
        ("GET",),
        r.agent_service,
        ("hash (blocking on ContentHash)",),
    ),
    Route(
        "/v1/agent/check/register",
        ("PUT",),
        r.agent_check_register,
        ("Args/ScriptArgs (refused)", "GRPC/H2PING/UDP/Docker/OSService/Alias (never run)"),
    ),
    Route("/v1/agent/check/deregister/<check_id>", ("PUT",), r.agent_check_deregister),
    Route("/v1/agent/check/pass/<check_id>", ("PUT",), r.agent_check_pass),
    Route("/v1/agent/check/warn/<check_id>", ("PUT",), r.agent_check_warn),
    Route("/v1/agent/check/fail/<check_id>", ("PUT",), r.agent_check_fail),
    Route("/v1/agent/check/update/<check_id>", ("PUT",), r.agent_check_update),
    Route("/v1/agent/checks", ("GET",), r.agent_checks),
    Route("/v1/agent/self", ("GET",), r.agent_self),
    Route("/v1/agent/members", ("GET",), r.agent_members, ("wan", "segment")),
    Route("/v1/agent/health/service/id/<service_id>", ("GET",), r.agent_health_by_id),
    Route("/v1/agent/health/service/name/<name>", ("GET",), r.agent_health_by_name),
    Route("/v1/agent/connect/authorize", ("POST",), r.agent_connect_authorize),
    # catalog
    Route(
        "/v1/catalog/register", ("PUT",), r.catalog_register, ("Service.Connect.SidecarService",)
    ),
    Route("/v1/catalog/deregister", ("PUT",), r.catalog_deregister),
    Route("/v1/catalog/datacenters", ("GET",), r.catalog_datacenters),
    Route("/v1/catalog/nodes", ("GET",), r.catalog_nodes, _READ),
    Route("/v1/catalog/services", ("GET",), r.catalog_services, _READ),
    Route("/v1/catalog/service/<service>", ("GET",), r.catalog_service, _READ),
    Route("/v1/catalog/node/<node>", ("GET",), r.catalog_node, _READ),
    Route("/v1/catalog/node-services/<node>", ("GET",), r.catalog_node_services, _READ),
    Route("/v1/catalog/gateway-services/<gateway>", ("GET",), r.catalog_gateway_services, _READ),
    Route("/v1/exported-services", ("GET",), r.exported_services),
    Route("/v1/imported-services", ("GET",), r.imported_services),
    # health
    Route(
        "/v1/health/service/<service>",
        ("GET",),
        r.health_service,
        (*_READ, "sameness-group", "merge-central-config"),
    ),
    Route("/v1/health/connect/<service>", ("GET",), r.health_connect, _READ),
    Route("/v1/health/checks/<service>", ("GET",), r.health_checks, _READ),
    Route("/v1/health/state/<state>", ("GET",), r.health_state, _READ),
    Route("/v1/health/node/<node>", ("GET",), r.health_node, _READ),
    # kv
    Route("/v1/kv/", ("GET",), r.kv_get),
    Route("/v1/kv/<path:key>", ("GET",), r.kv_get, ("stale", "consistent")),
    Route("/v1/kv/<path:key>", ("PUT",), r.kv_put),
    Route("/v1/kv/", ("DELETE",), r.kv_delete),
    Route("/v1/kv/<path:key>", ("DELETE",), r.kv_delete),
    # status
    Route("/v1/status/leader", ("GET",), r.status_leader),
    Route("/v1/status/peers", ("GET",), r.status_peers),
    # config entries
    Route("/v1/config", ("PUT",), r.config_apply),
    Route("/v1/config/<kind>", ("GET",), r.config_list),
    Route("/v1/config/<kind>/<path:name>", ("GET",), r.config_get),
    Route("/v1/config/<kind>/<path:name>", ("DELETE",), r.config_delete),
    # intentions (legacy ID-based API and the name-based one)
    Route("/v1/connect/intentions", ("GET",), r.intentions_list),
    Route(
        "/v1/connect/intentions",
        ("POST",),
        r.intention_create,
        ("SourceNS/DestinationNS other than default",),
    ),
    Route("/v1/connect/intentions/exact", ("GET",), r.intention_exact_get),
    Route("/v1/connect/intentions/exact", ("PUT",), r.intention_exact_put),
    Route("/v1/connect/intentions/exact", ("DELETE",), r.intention_exact_delete),
    Route("/v1/connect/intentions/match", ("GET",), r.intention_match),
    Route("/v1/connect/intentions/check", ("GET",), r.intention_check, ("source-type",)),
    Route("/v1/connect/intentions/<id>", ("GET",), r.intention_get),
    Route("/v1/connect/intentions/<id>", ("PUT",), r.intention_update),
    Route("/v1/connect/intentions/<id>", ("DELETE",), r.intention_delete),
    # ACL
    Route("/v1/acl/policy", ("PUT",), r.acl_policy_create),
    Route("/v1/acl/policy/name/<name>", ("GET",), r.acl_policy_get_by_name),
    Route("/v1/acl/policy/<id>", ("GET",), r.acl_policy_get),
    Route("/v1/acl/policy/<id>", ("PUT",), r.acl_policy_update),
    Route("/v1/acl/policy/<id>", ("DELETE",), r.acl_policy_delete),
    Route("/v1/acl/policies", ("GET",), r.acl_policies),
    Route("/v1/acl/token", ("PUT",), r.acl_token_create, ("TemplatedPolicies' Datacenters",)),
    Route("/v1/acl/token/self", ("GET",), r.acl_token_self),
    Route("/v1/acl/token/<id>", ("GET",), r.acl_token_get),
    Route("/v1/acl/token/<id>/clone", ("PUT",), r.acl_token_clone),
    Route("/v1/acl/token/<id>", ("PUT",), r.acl_token_update),
    Route("/v1/acl/token/<id>", ("DELETE",), r.acl_token_delete),
    Route("/v1/acl/tokens", ("GET",), r.acl_tokens, ("policy", "role", "authmethod")),
    Route("/v1/acl/bootstrap", ("PUT",), r.acl_bootstrap, ("BootstrapSecret",)),
    Route("/v1/acl/role", ("PUT",), r.acl_role_create),
    Route("/v1/acl/role/name/<name>", ("GET",), r.acl_role_get_by_name),
    Route("/v1/acl/role/<id>", ("GET",), r.acl_role_get),
    Route("/v1/acl/role/<id>", ("PUT",), r.acl_role_update),
    Route("/v1/acl/role/<id>", ("DELETE",), r.acl_role_delete),
    Route("/v1/acl/roles", ("GET",), r.acl_roles),
    Route(
        "/v1/acl/templated-policies",
        ("GET",),
        r.acl_templated_policies,
        ("templates other than builtin/service, builtin/node, builtin/dns",),
    ),
    Route("/v1/acl/templated-policy/name/<path:name>", ("GET",), r.acl_templated_policy),
    Route(
        "/v1/acl/templated-policy/preview/<path:name>",
        ("POST",),
        r.acl_templated_policy_preview,
    ),
    Route(
        "/v1/acl/auth-method",
        ("PUT",),
        r.acl_auth_method_create,
        ("Type kubernetes/aws-iam/oidc (jwt only)", "OIDCDiscoveryURL", "NamespaceRules"),
    ),
    Route("/v1/acl/auth-method/<name>", ("GET",), r.acl_auth_method_get),
    Route("/v1/acl/auth-method/<name>", ("PUT",), r.acl_auth_method_update),
    Route("/v1/acl/auth-method/<name>", ("DELETE",), r.acl_auth_method_delete),
    Route("/v1/acl/auth-methods", ("GET",), r.acl_auth_methods),
    Route(
        "/v1/acl/binding-rule",
        ("PUT",),
        r.acl_binding_rule_create,
        ("BindType templated-policy", "BindVars"),
    ),
    Route("/v1/acl/binding-rule/<id>", ("GET",), r.acl_binding_rule_get),
    Route("/v1/acl/binding-rule/<id>", ("PUT",), r.acl_binding_rule_update),
    Route("/v1/acl/binding-rule/<id>", ("DELETE",), r.acl_binding_rule_delete),
    Route("/v1/acl/binding-rules", ("GET",), r.acl_binding_rules),
    Route("/v1/acl/login", ("POST",), r.acl_login),
    Route("/v1/acl/logout", ("POST",), r.acl_logout),
    # admin partitions and cluster peering (data model only)
    Route("/v1/partition", ("PUT",), r.partition_create),
    Route("/v1/partition/<name>", ("PUT",), r.partition_update),
    Route("/v1/partition/<name>", ("GET",), r.partition_get),
    Route(
        "/v1/partition/<name>",
        ("DELETE",),
        r.partition_delete,
        ("asynchronous deletion (DeletedAt)",),
    ),
    Route("/v1/partitions", ("GET",), r.partition_list),
    Route("/v1/peering/token", ("POST",), r.peering_token, ("ServerExternalAddresses",)),
    Route(
        "/v1/peering/establish", ("POST",), r.peering_establish, ("tokens from another cluster",)
    ),
    Route("/v1/peering/<name>", ("GET",), r.peering_get),
    Route("/v1/peering/<name>", ("DELETE",), r.peering_delete),
    Route("/v1/peerings", ("GET",), r.peering_list),
    # prepared queries
    Route("/v1/query", ("POST",), r.query_create),
    Route("/v1/query", ("GET",), r.query_list),
    Route("/v1/query/<uuid>", ("GET",), r.query_get),
    Route("/v1/query/<uuid>", ("PUT",), r.query_update),
    Route("/v1/query/<uuid>", ("DELETE",), r.query_delete),
    Route("/v1/query/<query>/execute", ("GET",), r.query_execute, ("near",)),
    Route("/v1/query/<query>/explain", ("GET",), r.query_explain),
    # sessions, txn
    Route("/v1/session/create", ("PUT",), r.session_create),
    Route("/v1/session/destroy/<uuid>", ("PUT",), r.session_destroy),
    Route("/v1/session/renew/<uuid>", ("PUT",), r.session_renew),
    Route("/v1/session/info/<uuid>", ("GET",), r.session_info),
    Route("/v1/session/node/<node>", ("GET",), r.session_node),
    Route("/v1/session/list", ("GET",), r.session_list),
    Route("/v1/txn", ("PUT",), r.txn),
    # events, coordinates
    Route("/v1/event/fire/<name>", ("PUT",), r.event_fire),
    Route("/v1/event/list", ("GET",), r.event_list),
    Route("/v1/coordinate/datacenters", ("GET",), r.coordinate_datacenters),
    Route("/v1/coordinate/nodes", ("GET",), r.coordinate_nodes),
    Route("/v1/coordinate/node/<node>", ("GET",), r.coordinate_node),
    Route("/v1/coordinate/update", ("PUT",), r.coordinate_update),
    # operator, snapshot
    Route("/v1/operator/raft/configuration", ("GET",), r.operator_raft_configuration),
    Route("/v1/operator/autopilot/configuration", ("GET",), r.operator_autopilot_get),
    Route("/v1/operator/autopilot/configuration", ("PUT",), r.operator_autopilot_set),
    Route("/v1/operator/autopilot/health", ("GET",), r.operator_autopilot_health),
    Route("/v1/operator/autopilot/state", ("GET",), r.operator_autopilot_state),
    Route(
        "/v1/operator/keyring", ("GET",), r.operator_keyring_list, ("relay-factor", "local-only")
    ),
    Route("/v1/operator/keyring", ("POST", "PUT", "DELETE"), r.operator_keyring_change),
    Route("/v1/operator/usage", ("GET",), r.operator_usage, ("global",)),
    Route("/v1/snapshot", ("GET",), r.snapshot_save, ("stale",)),
    Route("/v1/snapshot", ("PUT",), r.snapshot_restore),
    # agent operations
    Route("/v1/agent/maintenance", ("PUT",), r.agent_maintenance),
    Route("/v1/agent/service/maintenance/<service_id>", ("PUT",), r.agent_service_maintenance),
    Route("/v1/agent/reload", ("PUT",), r.agent_reload),
    Route("/v1/agent/leave", ("PUT",), r.agent_leave),
    Route("/v1/agent/force-leave/<node>", ("PUT",), r.agent_force_leave, ("prune", "wan")),
    Route("/v1/agent/token/<kind>", ("PUT",), r.agent_token),
    Route("/v1/agent/metrics", ("GET",), r.agent_metrics),
    Route("/v1/agent/monitor", ("GET",), r.agent_monitor, ("logjson",)),
    # sandbox only: not part of Consul's API
    # connect (state/connect.py)
    Route("/v1/connect/ca/roots", ("GET",), r.connect_ca_roots, ("index (no blocking)",)),
    Route("/v1/connect/ca/configuration", ("GET",), r.connect_ca_configuration),
    Route("/v1/agent/connect/ca/roots", ("GET",), r.connect_ca_roots, ("index (no blocking)",)),
    Route(
        "/v1/agent/connect/ca/leaf/<service>",
        ("GET",),
        r.agent_connect_ca_leaf,
        ("index (no blocking)",),
    ),
    Route(
        "/v1/discovery-chain/<service>",
        ("GET",),
        r.discovery_chain,
        ("compile-dc", "POST overrides"),
    ),
    Route("/v1/catalog/connect/<service>", ("GET",), r.catalog_connect, _READ),
    Route("/v1/health/ingress/<service>", ("GET",), r.health_ingress, _READ),
    Route("/v1/_sandbox/reset", ("PUT",), r.sandbox_reset, sandbox_only=True),
)

UNROUTED: tuple[str, ...] = (
    "legacy /v1/acl/create|update|destroy|info|list, /v1/acl/replication,"
    " /v1/acl/authorize, /v1/acl/oidc/* (no oidc auth method)",
    "/v1/agent/join (a single dev agent has no other agent to join),"
    " /v1/agent/host (the sandbox does not expose its host's details)",
    "PUT /v1/connect/ca/configuration (the CA provider, OpenBao, is fixed at start)",
    "/v1/namespace*, /v1/namespaces (namespaces are always 'default')",
    "/v1/internal/* (the UI's private API)",
    "DELETE /v1/operator/raft/peer, POST /v1/operator/raft/transfer-leader"
    " (one server: no other peer to remove or to lead)",
    "/v1/operator/area*, /v1/operator/segment, /v1/operator/license (Enterprise: network"
    " areas, segments, licensing); WAN federation (?wan, a second datacenter)",
)

URL_MAP = Map(
    [
        Rule(route.path, methods=list(route.methods), endpoint=i, strict_slashes=False)
        for i, route in enumerate(ROUTES)
    ]
)
