"""The sandbox's AWS under concurrent writers, as Terraform's parallel applies make them: roles
created, looked up, attached and deleted from eight threads at once all succeed (moto's
backends are not thread-safe; the server serializes requests into them)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_roles_written_from_eight_threads_at_once(aws: Any) -> None:
    iam = aws.client("iam")

    def churn(worker: int) -> list[str]:
        names = [f"concurrent-{worker}-{i}" for i in range(15)]
        for name in names:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
            iam.attach_role_policy(RoleName=name, PolicyArn=POLICY)
            assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
        for name in names:
            iam.detach_role_policy(RoleName=name, PolicyArn=POLICY)
            iam.delete_role(RoleName=name)
        return names

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = [name for names in pool.map(churn, range(8)) for name in names]
    assert len(made) == 120
    left = {r["RoleName"] for r in iam.list_roles(MaxItems=1000)["Roles"]}
    assert not left & set(made)
