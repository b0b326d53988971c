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

from .acl_auth_methods import AuthMethodState
from .acl_login import LoginState
from .acl_roles import RoleState
from .acl_templates import TemplatedPolicyState


class ACLAuthState(RoleState, TemplatedPolicyState, AuthMethodState, LoginState):
    """Roles, templated policies, auth methods and binding rules (tables ``_roles``,
    ``_auth_methods``, ``_binding_rules``, all under the ``acl`` index); bootstrap, login,
    logout. One module a concern: :mod:`.acl_roles`, :mod:`.acl_templates`,
    :mod:`.acl_auth_methods`, :mod:`.acl_login`; the fields they share: :mod:`.acl_fields`."""
