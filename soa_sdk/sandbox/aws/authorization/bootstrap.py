"""The identities the sandbox starts with, and the switch that makes moto enforce IAM.

See `soa_sdk.sandbox.aws.authorization` for what is enforced. Everything here acts on moto's
backends directly, in the server process: no request is served before `install()` returns.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping
from typing import Any

from soa_sdk.sandbox.aws.signing.credentials import RootKeys

MANAGEMENT_ACCOUNT = "123456789012"  # moto's DEFAULT_ACCOUNT_ID
ADMIN_USER = "soa-lab-admin"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
BOUNDARY_USER = "boundary-session-recordings"
#: Environment variables that give Boundary's writer its keys (`secrets.json`, see
#: `soa_sdk.sandbox.services.aws.AwsService.new_secrets`).
BOUNDARY_KEY_ENV = (
    "SOA_LAB_AWS_BOUNDARY_ACCESS_KEY_ID",
    "SOA_LAB_AWS_BOUNDARY_SECRET_ACCESS_KEY",
)

_lock = threading.Lock()
_users: dict[str, tuple[RootKeys, str | None]] = {}


def install(
    root: RootKeys | None,
    boundary: RootKeys | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Switch on IAM enforcement and create the sandbox's users (idempotent)."""
    import moto.iam.models as moto_iam
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicyStatement
    from moto.organizations.models import OrganizationsBackend
    from moto.s3.models import FakeBucket

    from soa_sdk.sandbox.aws.authorization import enforce

    # AWS managed policies (AdministratorAccess, AmazonEKSClusterPolicy...) exist in every
    # real account; read by moto when it creates an account's IAM backend.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    if boundary is None:
        boundary = _keys(environ, BOUNDARY_KEY_ENV)
    with _lock:
        _users.clear()
        if root is not None:
            _users[ADMIN_USER] = (root, ADMIN_POLICY)
        if boundary is not None:
            _users[BOUNDARY_USER] = (boundary, None)
    ActionAuthenticatorMixin._authenticate_and_authorize_action = enforce.authorize  # type: ignore[method-assign]
    IAMPolicyStatement._check_principal = enforce.check_principal  # type: ignore[method-assign]
    # moto's own bucket-policy check knows no principal, so it denies on any Deny statement
    # with a condition; bucket_policy.check decides instead, with the caller's identity.
    FakeBucket.get_permission = _neutral  # type: ignore[method-assign]
    moto_iam.get_account_id_from = account_of_key
    if not getattr(OrganizationsBackend.create_account, "_soa_lab", False):
        OrganizationsBackend.create_account = _with_admin_role(OrganizationsBackend.create_account)  # type: ignore[method-assign]
    ensure_users()


def account_of_key(access_key: str) -> str:
    """The account whose IAM holds ``access_key`` (STS puts the keys it issues in the role's
    account), else moto's default account: moto's ``get_account_id_from``, which serves every
    request's account, but looking only in the IAM backends that exist. moto's own looks in
    every partition's (aws-cn, aws-us-gov, aws-iso...) of every account and so creates them,
    each reading the ~1,100 AWS managed policies: 3-20 s on the first call after accounts
    are made (py-spy), for backends no key can be in."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    # list(): other threads may add accounts and backends meanwhile (moto's issue #5881).
    for account_id, account in list(iam_backends.items()):
        if any(access_key in backend.access_keys for backend in list(dict.values(account))):
            return account_id
    return DEFAULT_ACCOUNT_ID


def _neutral(self: Any, action: str, resource: str) -> Any:
    from moto.iam.access_control import PermissionResult

    return PermissionResult.NEUTRAL


def _keys(environ: Mapping[str, str] | None, names: tuple[str, str]) -> RootKeys | None:
    env = os.environ if environ is None else environ
    key_id, secret = (env.get(name, "") for name in names)
    return RootKeys(key_id, secret) if key_id and secret else None


def ensure_users() -> None:
    """Create the sandbox's IAM users with their given keys if missing (after start-up, and
    after `POST /moto-api/reset` emptied the backends). A dict lookup when nothing is missing."""
    from moto.iam.models import iam_backends

    backend = iam_backends[MANAGEMENT_ACCOUNT]["global"]
    if all(keys.access_key_id in backend.access_keys for keys, _ in _users.values()):
        return
    with _lock:
        for name, (keys, policy) in _users.items():
            if keys.access_key_id not in backend.access_keys:
                _create_user(backend, name, keys, policy)


def _create_user(backend: Any, name: str, keys: RootKeys, policy: str | None) -> None:
    from moto.iam.models import AccessKey

    user = backend.users.get(name)
    if user is None:
        user = backend.create_user(region_name="us-east-1", user_name=name, path="/")
        if policy:
            backend.attach_user_policy(policy, name)
    # Another server in this process (tests) gave the user other keys: these replace them.
    for old in list(user.access_keys):
        user.access_keys.remove(old)
        backend.access_keys.pop(old.physical_resource_id, None)
    key = AccessKey(name, prefix="AKIA", account_id=backend.account_id)
    # The keys are the sandbox's own (secrets.json), not ones moto makes up.
    key.access_key_id = keys.access_key_id
    key.secret_access_key = keys.secret_access_key
    user.access_keys.append(key)
    backend.access_keys[key.physical_resource_id] = key


def _with_admin_role(create_account: Any) -> Any:
    """`CreateAccount`, then `AdministratorAccess` on the account's access role, as in AWS."""

    @functools.wraps(create_account)
    def wrapper(self: Any, **kwargs: Any) -> dict[str, Any]:
        from moto.iam.models import iam_backends

        status = create_account(self, **kwargs)
        account_id = status["CreateAccountStatus"]["AccountId"]
        role = kwargs.get("RoleName") or "OrganizationAccountAccessRole"
        iam_backends[account_id]["global"].attach_role_policy(ADMIN_POLICY, role)
        return status

    wrapper._soa_lab = True  # type: ignore[attr-defined]
    return wrapper
