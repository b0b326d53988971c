"""Organizations: the organization, its units, accounts, policies and attachments."""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import missing, policy_as_written, tag_list, timestamp
from soa_sdk.sandbox.providers.cty import UNKNOWN
from soa_sdk.sandbox.providers.framework import (
    ProviderError,
    State,
)


class OrgTagged(AwsResource):
    tagged = True

    def org_tags(self, resource_id: str) -> dict[str, str]:
        pages = self.client("organizations").get_paginator("list_tags_for_resource")
        return {
            t["Key"]: t["Value"]
            for page in pages.paginate(ResourceId=resource_id)
            for t in page["Tags"]
        }

    def update_org_tags(self, resource_id: str, prior: State, planned: State) -> None:
        organizations = self.client("organizations")
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            organizations.untag_resource(ResourceId=resource_id, TagKeys=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            organizations.tag_resource(ResourceId=resource_id, Tags=tag_list(changed))

    def parent_of(self, child_id: str) -> str:
        parents = self.client("organizations").list_parents(ChildId=child_id)["Parents"]
        return parents[0]["Id"] if parents else ""


class Organization(AwsResource):
    type_name = "aws_organizations_organization"

    def create(self, planned: State, config: State) -> State:
        organizations = self.client("organizations")
        made = organizations.create_organization(FeatureSet=planned["feature_set"])
        self.made({**planned, "id": made["Organization"]["Id"]})
        self._converge({}, planned)
        return self.read(planned) or {}

    def _converge(self, prior: State, planned: State) -> None:
        organizations = self.client("organizations")
        old = set(prior.get("aws_service_access_principals") or [])
        new = set(planned.get("aws_service_access_principals") or [])
        for principal in sorted(new - old):
            organizations.enable_aws_service_access(ServicePrincipal=principal)
        for principal in sorted(old - new):
            organizations.disable_aws_service_access(ServicePrincipal=principal)
        root = organizations.list_roots()["Roots"][0]["Id"]
        old = set(prior.get("enabled_policy_types") or [])
        new = set(planned.get("enabled_policy_types") or [])
        for policy_type in sorted(new - old):
            organizations.enable_policy_type(RootId=root, PolicyType=policy_type)
        for policy_type in sorted(old - new):
            organizations.disable_policy_type(RootId=root, PolicyType=policy_type)

    def read(self, state: State) -> State | None:
        organizations = self.client("organizations")
        described = missing(
            organizations.describe_organization, "AWSOrganizationsNotInUseException"
        )
        if described is None:
            return None
        org = described["Organization"]
        if state.get("id") and state["id"] != org["Id"]:
            return None
        principals = [
            p["ServicePrincipal"]
            for p in organizations.list_aws_service_access_for_organization()[
                "EnabledServicePrincipals"
            ]
        ]
        roots = organizations.list_roots()["Roots"]
        accounts = [
            {
                "arn": a["Arn"],
                "email": a["Email"],
                "id": a["Id"],
                "joined_method": a.get("JoinedMethod"),
                "joined_timestamp": timestamp(a.get("JoinedTimestamp")),
                "name": a["Name"],
                "state": a.get("State", a.get("Status")),
                "status": a.get("Status"),
            }
            for page in organizations.get_paginator("list_accounts").paginate()
            for a in page["Accounts"]
        ]
        enabled = [
            t["Type"]
            for t in (roots[0].get("PolicyTypes") if roots else []) or []
            if t.get("Status") == "ENABLED"
        ]
        return {
            **state,
            "id": org["Id"],
            "arn": org["Arn"],
            "feature_set": org["FeatureSet"],
            "master_account_arn": org["MasterAccountArn"],
            "master_account_email": org["MasterAccountEmail"],
            "master_account_id": org["MasterAccountId"],
            "master_account_name": next(
                (a["name"] for a in accounts if a["id"] == org["MasterAccountId"]), None
            ),
            "aws_service_access_principals": sorted(principals) or None
            if state.get("aws_service_access_principals") is None
            else sorted(principals),
            "enabled_policy_types": sorted(enabled) or None
            if state.get("enabled_policy_types") is None
            else sorted(enabled),
            "accounts": accounts,
            "non_master_accounts": [a for a in accounts if a["id"] != org["MasterAccountId"]],
            "roots": [
                {
                    "arn": r["Arn"],
                    "id": r["Id"],
                    "name": r["Name"],
                    "policy_types": [
                        {"name": t["Type"], "status": t["Status"]}
                        for t in r.get("PolicyTypes") or []
                    ],
                }
                for r in roots
            ],
        }

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        changed = prior is not None and any(
            set(prior.get(name) or []) != set(planned.get(name) or [])
            for name in ("aws_service_access_principals", "enabled_policy_types")
        )
        if changed:
            planned["roots"] = UNKNOWN
        return planned

    def update(self, prior: State, planned: State, config: State) -> State:
        if prior["feature_set"] != planned["feature_set"]:
            raise ProviderError("Changing an organization's feature_set is not supported here")
        self._converge(prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("organizations").delete_organization()

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id})


class OrganizationalUnit(OrgTagged):
    type_name = "aws_organizations_organizational_unit"

    def create(self, planned: State, config: State) -> State:
        unit = self.client("organizations").create_organizational_unit(
            ParentId=planned["parent_id"],
            Name=planned["name"],
            Tags=tag_list(planned.get("tags_all") or {}),
        )["OrganizationalUnit"]
        return self.read({**planned, "id": unit["Id"]}) or {}

    def read(self, state: State) -> State | None:
        organizations = self.client("organizations")
        found = missing(
            lambda: organizations.describe_organizational_unit(OrganizationalUnitId=state["id"]),
            "OrganizationalUnitNotFoundException",
        )
        if found is None:
            return None
        unit = found["OrganizationalUnit"]
        accounts = [
            {"arn": a["Arn"], "email": a["Email"], "id": a["Id"], "name": a["Name"]}
            for a in organizations.list_accounts_for_parent(ParentId=unit["Id"])["Accounts"]
        ]
        state = {
            **state,
            "id": unit["Id"],
            "arn": unit["Arn"],
            "name": unit["Name"],
            "parent_id": self.parent_of(unit["Id"]),
            "accounts": accounts,
        }
        return self.with_tags(state, self.org_tags(unit["Id"]))

    def update(self, prior: State, planned: State, config: State) -> State:
        if prior["name"] != planned["name"]:
            self.client("organizations").update_organizational_unit(
                OrganizationalUnitId=prior["id"], Name=planned["name"]
            )
        self.update_org_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("organizations").delete_organizational_unit(OrganizationalUnitId=prior["id"])


class Account(OrgTagged):
    type_name = "aws_organizations_account"

    def create(self, planned: State, config: State) -> State:
        organizations = self.client("organizations")
        arguments: dict[str, Any] = {
            "Email": planned["email"],
            "AccountName": planned["name"],
            "Tags": tag_list(planned.get("tags_all") or {}),
        }
        if planned.get("role_name"):
            arguments["RoleName"] = planned["role_name"]
        if planned.get("iam_user_access_to_billing"):
            arguments["IamUserAccessToBilling"] = planned["iam_user_access_to_billing"]
        status = organizations.create_account(**arguments)["CreateAccountStatus"]
        if status.get("State") == "FAILED":
            raise ProviderError(
                f"creating account {planned['name']} failed: {status.get('FailureReason')}"
            )
        account_id = status["AccountId"]
        self.made({**planned, "id": account_id})
        parent = planned.get("parent_id")
        if parent:
            current = self.parent_of(account_id)
            if parent != current:
                organizations.move_account(
                    AccountId=account_id, SourceParentId=current, DestinationParentId=parent
                )
        return self.read({**planned, "id": account_id}) or {}

    def read(self, state: State) -> State | None:
        organizations = self.client("organizations")
        found = missing(
            lambda: organizations.describe_account(AccountId=state["id"]),
            "AccountNotFoundException",
        )
        if found is None:
            return None
        account = found["Account"]
        if account.get("Status") in ("SUSPENDED", "PENDING_CLOSURE"):
            return None
        state = {
            **state,
            "id": account["Id"],
            "arn": account["Arn"],
            "email": account["Email"],
            "name": account["Name"],
            "status": account.get("Status"),
            "parent_id": self.parent_of(account["Id"]),
            "govcloud_id": state.get("govcloud_id"),
        }
        return self.with_tags(state, self.org_tags(account["Id"]))

    def update(self, prior: State, planned: State, config: State) -> State:
        if planned.get("parent_id") and planned["parent_id"] != prior.get("parent_id"):
            self.client("organizations").move_account(
                AccountId=prior["id"],
                SourceParentId=prior["parent_id"],
                DestinationParentId=planned["parent_id"],
            )
        self.update_org_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        organizations = self.client("organizations")
        if prior.get("close_on_deletion"):
            organizations.close_account(AccountId=prior["id"])
        else:
            organizations.remove_account_from_organization(AccountId=prior["id"])

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id, "close_on_deletion": False, "create_govcloud": False})


class Policy(OrgTagged):
    type_name = "aws_organizations_policy"

    def create(self, planned: State, config: State) -> State:
        policy = self.client("organizations").create_policy(
            Content=planned["content"],
            Description=planned.get("description") or "",
            Name=planned["name"],
            Type=planned["type"],
            Tags=tag_list(planned.get("tags_all") or {}),
        )["Policy"]
        return self.read({**planned, "id": policy["PolicySummary"]["Id"]}) or {}

    def read(self, state: State) -> State | None:
        found = missing(
            lambda: self.client("organizations").describe_policy(PolicyId=state["id"]),
            "PolicyNotFoundException",
        )
        if found is None:
            return None
        policy, summary = found["Policy"], found["Policy"]["PolicySummary"]
        description = summary.get("Description") or None
        state = {
            **state,
            "id": summary["Id"],
            "arn": summary["Arn"],
            "name": summary["Name"],
            "description": description if description or state.get("description") else None,
            "type": summary["Type"],
            "content": policy_as_written(state, "content", policy["Content"]),
        }
        return self.with_tags(state, self.org_tags(summary["Id"]))

    def update(self, prior: State, planned: State, config: State) -> State:
        self.client("organizations").update_policy(
            PolicyId=prior["id"],
            Name=planned["name"],
            Description=planned.get("description") or "",
            Content=planned["content"],
        )
        self.update_org_tags(prior["id"], prior, planned)
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        if not prior.get("skip_destroy"):
            self.client("organizations").delete_policy(PolicyId=prior["id"])


class PolicyAttachment(AwsResource):
    type_name = "aws_organizations_policy_attachment"

    def create(self, planned: State, config: State) -> State:
        self.client("organizations").attach_policy(
            PolicyId=planned["policy_id"], TargetId=planned["target_id"]
        )
        return {**planned, "id": f"{planned['target_id']}:{planned['policy_id']}"}

    def read(self, state: State) -> State | None:
        target_id, _, policy_id = (state.get("id") or "").partition(":")
        targets = missing(
            lambda: self.client("organizations").list_targets_for_policy(PolicyId=policy_id),
            "PolicyNotFoundException",
        )
        if targets is None or target_id not in {t["TargetId"] for t in targets["Targets"]}:
            return None
        return {**state, "target_id": target_id, "policy_id": policy_id}

    def delete(self, prior: State) -> None:
        if not prior.get("skip_destroy"):
            self.client("organizations").detach_policy(
                PolicyId=prior["policy_id"], TargetId=prior["target_id"]
            )
