"""IAM: roles, inline policies, managed-policy attachments, OIDC providers, instance profiles.

As terraform-provider-aws has them: a role's ``name_prefix`` makes a unique name; its trust
policy is kept as written when ``GetRole`` answers the same document (URL-decoded);
``description``, ``max_session_duration`` and the trust policy change in place
(``UpdateRole``, ``UpdateAssumeRolePolicy``); ``force_detach_policies`` detaches and deletes
the role's policies before ``DeleteRole``. An inline policy's id is ``role:name``; an
attachment's id is the role name and a unique suffix (as the real provider makes it). An OIDC
provider's ``client_id_list`` changes in place (``AddClientIDToOpenIDConnectProvider``). An
instance profile holds at most one role (``AddRoleToInstanceProfile``), removed before delete.

Left out: the role's ``inline_policy`` blocks (deprecated by the real provider) and
exclusive ``managed_policy_arns`` (read back, not enforced), ``permissions_boundary`` changes.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import (
    missing,
    policy_as_written,
    same_json,
    tag_dict,
    tag_list,
    timestamp,
)
from soa_sdk.sandbox.providers.aws.ec2_common import name_from, name_prefix_of, prefixed_unique_id
from soa_sdk.sandbox.providers.framework import State


def _document(text: Any) -> str | None:
    """A policy as IAM answers it (URL-encoded JSON, or already decoded by boto3)."""
    if text is None or isinstance(text, dict):
        return json.dumps(text) if text is not None else None
    return urllib.parse.unquote(text)


class IamTagged(AwsResource):
    tagged = True

    def update_iam_tags(self, tag: Any, untag: Any, prior: State, planned: State) -> None:
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            untag(removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            tag(tag_list(changed))


class Role(IamTagged):
    type_name = "aws_iam_role"

    def create(self, planned: State, config: State) -> State:
        name, prefix = name_from(planned)
        arguments: dict[str, Any] = {
            "RoleName": name,
            "Path": planned.get("path") or "/",
            "AssumeRolePolicyDocument": planned["assume_role_policy"],
            "MaxSessionDuration": int(planned.get("max_session_duration") or 3600),
        }
        if isinstance(planned.get("description"), str):
            arguments["Description"] = planned["description"]
        if isinstance(planned.get("permissions_boundary"), str):
            arguments["PermissionsBoundary"] = planned["permissions_boundary"]
        if planned.get("tags_all"):
            arguments["Tags"] = tag_list(planned["tags_all"])
        self.client("iam").create_role(**arguments)
        return self.read({**planned, "id": name, "name_prefix": prefix}) or {}

    def read(self, state: State) -> State | None:
        iam = self.client("iam")
        found = missing(lambda: iam.get_role(RoleName=state["id"]), "NoSuchEntity")
        if found is None:
            return None
        role = found["Role"]
        attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
        state = {
            **state,
            "id": role["RoleName"],
            "name": role["RoleName"],
            "name_prefix": name_prefix_of(state),
            "arn": role["Arn"],
            "unique_id": role["RoleId"],
            "create_date": timestamp(role.get("CreateDate")),
            "path": role.get("Path", "/"),
            "description": role.get("Description") or None,
            "max_session_duration": role.get("MaxSessionDuration", 3600),
            "assume_role_policy": policy_as_written(
                state, "assume_role_policy", _document(role.get("AssumeRolePolicyDocument"))
            ),
            "permissions_boundary": (role.get("PermissionsBoundary") or {}).get(
                "PermissionsBoundaryArn"
            ),
            "force_detach_policies": bool(state.get("force_detach_policies")),
            "managed_policy_arns": sorted(p["PolicyArn"] for p in attached),
        }
        return self.with_tags(state, tag_dict(role.get("Tags")))

    def update(self, prior: State, planned: State, config: State) -> State:
        iam, name = self.client("iam"), prior["id"]
        if not same_json(planned["assume_role_policy"], prior.get("assume_role_policy")):
            iam.update_assume_role_policy(
                RoleName=name, PolicyDocument=planned["assume_role_policy"]
            )
        if planned.get("description") != prior.get("description") or planned.get(
            "max_session_duration"
        ) != prior.get("max_session_duration"):
            iam.update_role(
                RoleName=name,
                Description=planned.get("description") or "",
                MaxSessionDuration=int(planned.get("max_session_duration") or 3600),
            )
        self.update_iam_tags(
            lambda tags: iam.tag_role(RoleName=name, Tags=tags),
            lambda keys: iam.untag_role(RoleName=name, TagKeys=keys),
            prior,
            planned,
        )
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        iam, name = self.client("iam"), prior["id"]
        if prior.get("force_detach_policies"):
            for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        iam.delete_role(RoleName=name)


class RolePolicy(AwsResource):
    type_name = "aws_iam_role_policy"

    def create(self, planned: State, config: State) -> State:
        name = planned.get("name")
        if not isinstance(name, str):
            name = prefixed_unique_id(planned.get("name_prefix") or "terraform-")
        self.client("iam").put_role_policy(
            RoleName=planned["role"], PolicyName=name, PolicyDocument=planned["policy"]
        )
        return self.read({**planned, "id": f"{planned['role']}:{name}"}) or {}

    def read(self, state: State) -> State | None:
        role, _, name = state["id"].partition(":")
        found = missing(
            lambda: self.client("iam").get_role_policy(RoleName=role, PolicyName=name),
            "NoSuchEntity",
        )
        if found is None:
            return None
        return {
            **state,
            "role": role,
            "name": name,
            "policy": policy_as_written(state, "policy", _document(found["PolicyDocument"])),
        }

    def update(self, prior: State, planned: State, config: State) -> State:
        role, _, name = prior["id"].partition(":")
        self.client("iam").put_role_policy(
            RoleName=role, PolicyName=name, PolicyDocument=planned["policy"]
        )
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        role, _, name = prior["id"].partition(":")
        self.client("iam").delete_role_policy(RoleName=role, PolicyName=name)


class RolePolicyAttachment(AwsResource):
    type_name = "aws_iam_role_policy_attachment"

    def create(self, planned: State, config: State) -> State:
        self.client("iam").attach_role_policy(
            RoleName=planned["role"], PolicyArn=planned["policy_arn"]
        )
        return self.read({**planned, "id": prefixed_unique_id(f"{planned['role']}-")}) or {}

    def read(self, state: State) -> State | None:
        iam = self.client("iam")
        found = missing(
            lambda: iam.list_attached_role_policies(RoleName=state["role"]), "NoSuchEntity"
        )
        arns = {p["PolicyArn"] for p in (found or {}).get("AttachedPolicies", [])}
        return dict(state) if state["policy_arn"] in arns else None

    def delete(self, prior: State) -> None:
        self.client("iam").detach_role_policy(RoleName=prior["role"], PolicyArn=prior["policy_arn"])

    def import_state(self, import_id: str) -> State | None:
        role, _, arn = import_id.partition("/")
        return self.read({"id": prefixed_unique_id(f"{role}-"), "role": role, "policy_arn": arn})


class OpenIdConnectProvider(IamTagged):
    type_name = "aws_iam_openid_connect_provider"

    def create(self, planned: State, config: State) -> State:
        arguments: dict[str, Any] = {
            "Url": planned["url"],
            "ClientIDList": sorted(planned["client_id_list"]),
            "ThumbprintList": list(planned.get("thumbprint_list") or []),
        }
        if planned.get("tags_all"):
            arguments["Tags"] = tag_list(planned["tags_all"])
        arn = self.client("iam").create_open_id_connect_provider(**arguments)
        return self.read({**planned, "id": arn["OpenIDConnectProviderArn"]}) or {}

    def read(self, state: State) -> State | None:
        found = missing(
            lambda: self.client("iam").get_open_id_connect_provider(
                OpenIDConnectProviderArn=state["id"]
            ),
            "NoSuchEntity",
        )
        if found is None:
            return None
        url = found["Url"]
        state = {
            **state,
            "id": state["id"],
            "arn": state["id"],
            "url": state.get("url")
            if (state.get("url") or "").removeprefix("https://") == url.removeprefix("https://")
            else f"https://{url.removeprefix('https://')}",
            "client_id_list": sorted(found.get("ClientIDList", [])),
            "thumbprint_list": list(found.get("ThumbprintList", [])),
        }
        return self.with_tags(state, tag_dict(found.get("Tags")))

    def update(self, prior: State, planned: State, config: State) -> State:
        iam, arn = self.client("iam"), prior["id"]
        old, new = set(prior.get("client_id_list") or []), set(planned["client_id_list"])
        for client_id in sorted(new - old):
            iam.add_client_id_to_open_id_connect_provider(
                OpenIDConnectProviderArn=arn, ClientID=client_id
            )
        for client_id in sorted(old - new):
            iam.remove_client_id_from_open_id_connect_provider(
                OpenIDConnectProviderArn=arn, ClientID=client_id
            )
        wanted = planned.get("thumbprint_list")
        if isinstance(wanted, list) and wanted != prior.get("thumbprint_list"):
            iam.update_open_id_connect_provider_thumbprint(
                OpenIDConnectProviderArn=arn, ThumbprintList=wanted
            )
        self.update_iam_tags(
            lambda tags: iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=tags),
            lambda keys: iam.untag_open_id_connect_provider(
                OpenIDConnectProviderArn=arn, TagKeys=keys
            ),
            prior,
            planned,
        )
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=prior["id"])


class InstanceProfile(IamTagged):
    type_name = "aws_iam_instance_profile"

    def create(self, planned: State, config: State) -> State:
        iam = self.client("iam")
        name, prefix = name_from(planned)
        arguments: dict[str, Any] = {
            "InstanceProfileName": name,
            "Path": planned.get("path") or "/",
        }
        if planned.get("tags_all"):
            arguments["Tags"] = tag_list(planned["tags_all"])
        iam.create_instance_profile(**arguments)
        if isinstance(planned.get("role"), str):
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=planned["role"])
        return self.read({**planned, "id": name, "name_prefix": prefix}) or {}

    def read(self, state: State) -> State | None:
        iam = self.client("iam")
        found = missing(
            lambda: iam.get_instance_profile(InstanceProfileName=state["id"]), "NoSuchEntity"
        )
        if found is None:
            return None
        profile = found["InstanceProfile"]
        roles = [r["RoleName"] for r in profile.get("Roles", [])]
        state = {
            **state,
            "id": profile["InstanceProfileName"],
            "name": profile["InstanceProfileName"],
            "name_prefix": name_prefix_of(state),
            "arn": profile["Arn"],
            "path": profile.get("Path", "/"),
            "unique_id": profile["InstanceProfileId"],
            "create_date": timestamp(profile.get("CreateDate")),
            "role": roles[0] if roles else None,
        }
        return self.with_tags(state, tag_dict(profile.get("Tags")))

    def update(self, prior: State, planned: State, config: State) -> State:
        iam, name = self.client("iam"), prior["id"]
        if planned.get("role") != prior.get("role"):
            if prior.get("role"):
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=name, RoleName=prior["role"]
                )
            if planned.get("role"):
                iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=planned["role"])
        self.update_iam_tags(
            lambda tags: iam.tag_instance_profile(InstanceProfileName=name, Tags=tags),
            lambda keys: iam.untag_instance_profile(InstanceProfileName=name, TagKeys=keys),
            prior,
            planned,
        )
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        iam, name = self.client("iam"), prior["id"]
        profile = missing(
            lambda: iam.get_instance_profile(InstanceProfileName=name), "NoSuchEntity"
        )
        for role in (profile or {}).get("InstanceProfile", {}).get("Roles", []):
            iam.remove_role_from_instance_profile(
                InstanceProfileName=name, RoleName=role["RoleName"]
            )
        iam.delete_instance_profile(InstanceProfileName=name)
