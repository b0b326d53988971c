"""Evaluate a role's trust policy for `sts:AssumeRoleWithWebIdentity`, as IAM does.

A statement applies when its `Principal` names the OIDC provider
(`{"Federated": "arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH"}`, or `"*"`), its `Action`
matches `sts:AssumeRoleWithWebIdentity` (wildcards allowed) and every condition holds. An
applicable `Deny` wins; otherwise an applicable `Allow` is needed.

Condition keys available: `<HOST/PATH>:aud`, `<HOST/PATH>:sub`, `<HOST/PATH>:amr`,
`<HOST/PATH>:azp` (the provider URL without `https://`), and `aws:FederatedProvider`.
Operators: `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
`StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`, each with `IfExists`, and the
`ForAnyValue:`/`ForAllValues:` set prefixes; `Null`. Any other operator makes the statement
not apply (so it can only take rights away, never grant them). `NotPrincipal` and
`NotAction` are not implemented (such statements do not apply).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from typing import Any

ACTION = "sts:AssumeRoleWithWebIdentity"


def allows(policy: str | dict[str, Any], provider_arn: str, context: dict[str, list[str]]) -> bool:
    """Whether the trust policy lets the provider's token holder assume the role."""
    doc = json.loads(policy) if isinstance(policy, str) else policy
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for st in statements:
        if not isinstance(st, dict) or not _applies(st, provider_arn, context):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


def _applies(st: dict[str, Any], provider_arn: str, context: dict[str, list[str]]) -> bool:
    if "NotPrincipal" in st or "NotAction" in st:
        return False
    return (
        _principal(st.get("Principal"), provider_arn)
        and any(_like(ACTION.lower(), a.lower()) for a in _list(st.get("Action")))
        and _conditions(st.get("Condition", {}), context)
    )


def _principal(principal: Any, provider_arn: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(p == provider_arn or p == "*" for p in _list(principal.get("Federated")))
    return False


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _like(value: str, pattern: str) -> bool:
    # IAM wildcards: * and ? only (no [] classes as fnmatch would add).
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda v, p: v == p,
    "StringNotEquals": lambda v, p: v != p,
    "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
    "StringNotEqualsIgnoreCase": lambda v, p: v.lower() != p.lower(),
    "StringLike": _like,
    "StringNotLike": lambda v, p: not _like(v, p),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike"}


def _conditions(block: Any, context: dict[str, list[str]]) -> bool:
    if not isinstance(block, dict):
        return False
    ctx = {k.lower(): v for k, v in context.items()}
    for operator, tests in block.items():
        if not isinstance(tests, dict):
            return False
        for key, expected in tests.items():
            if not _condition(str(operator), ctx.get(str(key).lower()), _list(expected)):
                return False
    return True


def _condition(operator: str, values: list[str] | None, expected: list[str]) -> bool:
    set_op, _, op = operator.rpartition(":")
    if op == "Null":
        want_missing = expected and expected[0].lower() == "true"
        return (values is None) == bool(want_missing)
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    match = _MATCHERS.get(op)
    if match is None:
        return False
    if values is None:
        return if_exists or (set_op == "ForAllValues")
    negated = op in _NEGATED

    def one(v: str) -> bool:
        hits = [match(v, p) for p in expected]
        return all(hits) if negated else any(hits)

    if set_op == "ForAllValues":
        return all(one(v) for v in values)
    # Single-valued keys and ForAnyValue: any value satisfying the test.
    return any(one(v) for v in values)
