"""S3 bucket policies, evaluated for requests on a bucket that has one (moto ignores them).

AWS's rule (IAM policy evaluation logic, for one account or across two): an explicit
``Deny`` in the caller's identity policies or in the bucket policy refuses; otherwise, when the
caller is in the bucket's account, an ``Allow`` in either is enough; from another account both
must allow.

What a bucket policy statement may hold here:

- ``Effect``, ``Action``/``NotAction`` (``s3:...``, ``*`` and ``?`` wildcards, case-insensitive),
  ``Resource``/``NotResource`` (ARNs with wildcards);
- ``Principal``/``NotPrincipal``: ``"*"`` or ``{"AWS": ...}`` with ARNs of users or roles (a
  role's ARN matches its sessions), ``arn:aws:iam::ACCOUNT:root`` or a bare account id (every
  principal of that account);
- ``Condition`` with the ``String(Not)Equals``, ``String(Not)Like`` and ``Arn(Not)Equals``,
  ``Arn(Not)Like`` operators on ``aws:PrincipalArn`` and ``aws:PrincipalAccount``, and ``Bool``
  on ``aws:SecureTransport`` (always ``true``: the sandbox stands for AWS's TLS endpoints).

Not implemented: other condition keys and operators (a statement using one never allows, and
always denies, so an unknown condition fails closed), ``Service``, ``Federated`` and
``CanonicalUser`` principals (they never match a signed caller here), ACLs, access points, Block
Public Access, role paths in ``aws:PrincipalArn`` (a role ARN is built from its name).
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

_OPERATORS = {
    "StringEquals": (False, False),
    "StringNotEquals": (False, True),
    "StringLike": (True, False),
    "StringNotLike": (True, True),
    "ArnEquals": (False, False),
    "ArnNotEquals": (False, True),
    "ArnLike": (True, False),
    "ArnNotLike": (True, True),
    "Bool": (False, False),
}  # name: (wildcards, negated)
_KEYS = ("aws:principalarn", "aws:principalaccount", "aws:securetransport")
#: moto's names for operations that IAM authorizes as another action.
_IAM_ACTIONS = {"s3:HeadBucket": "s3:ListBucket", "s3:HeadObject": "s3:GetObject"}


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"
    NEUTRAL = "neutral"


def _bucket(resource: str) -> Any:
    from moto.s3.models import s3_backends

    name = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
    where = s3_backends.bucket_accounts.get(name) if name and name != "*" else None
    if where is None:
        return None
    partition, account = where
    return s3_backends[account][partition].buckets.get(name)


def applies(resource: str) -> bool:
    """Whether the bucket of ``resource`` (an S3 ARN) exists and has a policy."""
    bucket = _bucket(resource)
    return bucket is not None and bucket.policy is not None


def check(request: Any, resource: str) -> None:
    """Raise the request's AccessDenied unless identity and bucket policies allow it."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    bucket = _bucket(resource)
    action = _IAM_ACTIONS.get(request._action, request._action)
    identity = Decision.NEUTRAL
    for policy in request._access_key.collect_policies():
        result = IAMPolicy(policy).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            identity = Decision.DENY
            break
        if result == PermissionResult.PERMITTED:
            identity = Decision.ALLOW
    caller_account = request._access_key.account_id
    principal = principal_arn(request._access_key)
    document = json.loads(bucket.policy.decode() if bucket else "{}")
    resource_decision = evaluate(document, action, resource, principal, caller_account)
    if Decision.DENY in (identity, resource_decision):
        request._raise_access_denied()
    if bucket is not None and caller_account == bucket.account_id:
        allowed = Decision.ALLOW in (identity, resource_decision)
    else:
        allowed = identity == resource_decision == Decision.ALLOW
    if not allowed:
        request._raise_access_denied()


def principal_arn(access_key: Any) -> str:
    """``aws:PrincipalArn``: the user's ARN, or for a role's session the role's ARN."""
    role = getattr(access_key, "_owner_role_name", None)
    if role is not None:
        return f"arn:{access_key.partition}:iam::{access_key.account_id}:role/{role}"
    return str(access_key.arn)


def evaluate(
    document: dict[str, Any], action: str, resource: str, principal: str, account: str
) -> Decision:
    """The bucket policy's decision for ``principal`` (of ``account``) doing ``action``."""
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    # The sandbox's loopback HTTP endpoint stands for AWS's endpoints, which every SDK reaches
    # over TLS: aws:SecureTransport is "true" (so a DenyInsecureTransport statement holds).
    context = {
        "aws:principalarn": principal,
        "aws:principalaccount": account,
        "aws:securetransport": "true",
    }
    decision = Decision.NEUTRAL
    for statement in statements:
        if not _applies(statement, action, resource, principal):
            continue
        deny = statement.get("Effect") == "Deny"
        met = _conditions(statement.get("Condition") or {}, context)
        if met is None:  # an unsupported condition fails closed
            met = deny
        if not met:
            continue
        if deny:
            return Decision.DENY
        decision = Decision.ALLOW
    return decision


def _applies(statement: dict[str, Any], action: str, resource: str, principal: str) -> bool:
    if "NotAction" in statement:
        if _any_like(statement["NotAction"], action, ignore_case=True):
            return False
    elif not _any_like(statement.get("Action", []), action, ignore_case=True):
        return False
    if "NotResource" in statement:
        if _any_like(statement["NotResource"], resource):
            return False
    elif not _any_like(statement.get("Resource", []), resource):
        return False
    if "NotPrincipal" in statement:
        return not _principal_in(statement["NotPrincipal"], principal)
    return _principal_in(statement.get("Principal"), principal)


def _principal_in(element: Any, principal: str) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict) or "AWS" not in element:
        return False
    return principal_matches(element["AWS"], principal)


def principal_matches(names: str | list[str], principal: str) -> bool:
    """Whether ``principal`` (a user, role or role-session ARN) is one of ``names``."""
    parts = principal.split(":", 5)
    if len(parts) < 6:
        return False
    account, what = parts[4], parts[5]
    role = what.split("/")[1] if what.startswith("assumed-role/") else None
    if what.startswith("role/"):
        role = what.rsplit("/", 1)[-1]
    for name in [names] if isinstance(names, str) else names:
        if name in ("*", principal, account, f"arn:{parts[1]}:iam::{account}:root"):
            return True
        if role is not None and re.fullmatch(
            rf"arn:[^:]+:iam::{account}:role/(.+/)?{re.escape(role)}", name
        ):
            return True
    return False


def _conditions(block: dict[str, Any], context: dict[str, str]) -> bool | None:
    """True when every condition holds; None when one is not implemented."""
    for operator, tests in block.items():
        if operator not in _OPERATORS or not isinstance(tests, dict):
            return None
        wildcards, negated = _OPERATORS[operator]
        for key, values in tests.items():
            if key.lower() not in _KEYS:
                return None
            actual = context[key.lower()]
            values = [values] if isinstance(values, str) else values
            if operator == "Bool":
                values = [str(v).lower() for v in values]
            found = _any_like(values, actual) if wildcards else actual in values
            if found == negated:
                return False
    return True


def _any_like(patterns: str | list[str], value: str, ignore_case: bool = False) -> bool:
    flags = re.IGNORECASE if ignore_case else 0
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        if re.fullmatch(regex, value, flags | re.DOTALL):
            return True
    return False
