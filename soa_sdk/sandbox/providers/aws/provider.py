"""The local ``hashicorp/aws`` provider: the resources ``terraform/org`` declares, on boto3.

Configured as the real provider is: ``region`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``),
credentials from ``access_key``/``secret_key``/``token`` or the environment (the AWS SDK's
chain), endpoints from ``AWS_ENDPOINT_URL`` (the variable the real provider and boto3 both
honour) or the ``endpoints`` block, ``allowed_account_ids`` checked against
``sts:GetCallerIdentity``, ``default_tags`` merged into every ``tags_all``. Every request is
signed with those credentials: the sandbox checks SigV4 and IAM as AWS does.

Reads go to the API every time and return what it holds (a policy document is kept as
written when the API's is the same JSON, as the real provider does); ``role_name`` and
``iam_user_access_to_billing`` of an account, and a key's ``deletion_window_in_days``,
cannot be read back (AWS documents no API for them) and are kept from state.

Credentials then go through ``assume_role_with_web_identity`` (STS
``AssumeRoleWithWebIdentity``, unsigned, the token from the block or from
``AWS_WEB_IDENTITY_TOKEN_FILE`` / ``AWS_ROLE_ARN`` as the real provider reads them) and each
``assume_role`` block in turn (STS ``AssumeRole``, chained), so the accounts' aliased providers
act inside their accounts.

Left out: ``ignore_tags``, refreshing assumed credentials before they expire (a run is
shorter than the session), retries and waits on eventual consistency (moto is consistent),
GovCloud accounts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from soa_sdk.sandbox.providers.cty import UNKNOWN
from soa_sdk.sandbox.providers.framework import (
    DataSource,
    Provider,
    ProviderError,
    Resource,
    State,
)
from soa_sdk.sandbox.providers.schema import ProviderSchema

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).with_name("schema.json")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _missing(call: Callable[[], Any], *codes: str) -> Any:
    """``call()``, or None when AWS answers with one of ``codes`` (or 404)."""
    try:
        return call()
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if _code(error) in codes or status == 404:
            return None
        raise


def _same_json(a: str | None, b: str | None) -> bool:
    try:
        return json.loads(a or "null") == json.loads(b or "null")
    except ValueError:
        return a == b


def _policy(state: State, key: str, from_api: str | None) -> str | None:
    """The API's policy, written as the state has it when they are the same document."""
    if isinstance(from_api, dict):
        from_api = json.dumps(from_api)
    return state.get(key) if _same_json(state.get(key), from_api) else from_api


class AwsProvider(Provider):
    def __init__(self) -> None:
        super().__init__(ProviderSchema.load(SCHEMA_FILE))
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.region = "us-east-1"
        self.default_tags: dict[str, str] = {}
        self.account_id = ""
        self._session: boto3.session.Session | None = None
        self._endpoints: dict[str, str] = {}

    def configure(self, config: State) -> None:
        log.debug("configure: default_tags=%r", config.get("default_tags"))
        self.config = config
        self.region = (
            config.get("region")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        self._session = boto3.session.Session(
            aws_access_key_id=config.get("access_key") or None,
            aws_secret_access_key=config.get("secret_key") or None,
            aws_session_token=config.get("token") or None,
            profile_name=config.get("profile") or None,
            region_name=self.region,
        )
        for block in config.get("endpoints") or []:
            self._endpoints.update({k: v for k, v in block.items() if v})
        webs = config.get("assume_role_with_web_identity") or []
        from_environment = (
            not webs
            and not config.get("access_key")
            and not config.get("profile")
            and os.environ.get("AWS_ROLE_ARN")
            and os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
        )
        if from_environment:
            # The AWS SDKs' chain: a role and a token file in the environment come first.
            webs = [{}]
        for web in webs[:1]:
            self._session = self._assume_with_web_identity(web or {})
        for role in config.get("assume_role") or []:
            if role and role.get("role_arn"):
                self._session = self._assume(self._session, role)
        self._clients.clear()
        tags_blocks = config.get("default_tags") or []
        self.default_tags = dict((tags_blocks[0] or {}).get("tags") or {}) if tags_blocks else {}
        allowed = config.get("allowed_account_ids") or []
        forbidden = config.get("forbidden_account_ids") or []
        if allowed or forbidden or not config.get("skip_requesting_account_id"):
            self.account_id = self.client("sts").get_caller_identity()["Account"]
        if allowed and self.account_id not in allowed:
            raise ProviderError(
                f"AWS account ID not allowed: {self.account_id}",
                f"The credentials are for account {self.account_id}; allowed_account_ids "
                f"permits only {', '.join(sorted(allowed))}.",
            )
        if self.account_id in forbidden:
            raise ProviderError(f"AWS account ID not allowed: {self.account_id}")

    # --- credentials, as the real provider's assume_role blocks get them ----------------

    def _sts(self, session: boto3.session.Session) -> Any:
        return session.client(
            "sts",
            region_name=self.config.get("sts_region") or self.region,
            endpoint_url=self._endpoints.get("sts"),
        )

    def _assume_with_web_identity(self, web: State) -> boto3.session.Session:
        """``assume_role_with_web_identity``: each argument, else the environment variable the
        real provider reads (``AWS_ROLE_ARN``, ``AWS_WEB_IDENTITY_TOKEN_FILE``,
        ``AWS_ROLE_SESSION_NAME``). STS' call is unsigned: the token is the credential."""
        role_arn = web.get("role_arn") or os.environ.get("AWS_ROLE_ARN")
        token = web.get("web_identity_token")
        token_file = web.get("web_identity_token_file") or os.environ.get(
            "AWS_WEB_IDENTITY_TOKEN_FILE"
        )
        if not token and token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as error:
                raise ProviderError(
                    "Cannot read the web identity token",
                    f"web_identity_token_file {token_file}: {error.strerror}.",
                ) from None
        if not role_arn or not token:
            raise ProviderError(
                "Incomplete assume_role_with_web_identity",
                "It needs role_arn (or AWS_ROLE_ARN) and web_identity_token or "
                "web_identity_token_file (or AWS_WEB_IDENTITY_TOKEN_FILE).",
            )
        kwargs: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": web.get("session_name")
            or os.environ.get("AWS_ROLE_SESSION_NAME")
            or "terraform",
            "WebIdentityToken": token,
        }
        kwargs.update(_session_options(web))
        sts = boto3.session.Session(region_name=self.region).client(
            "sts",
            region_name=self.config.get("sts_region") or self.region,
            endpoint_url=self._endpoints.get("sts"),
            config=Config(signature_version=UNSIGNED),
        )
        try:
            reply = sts.assume_role_with_web_identity(**kwargs)
        except ClientError as error:
            raise ProviderError(
                "Cannot assume IAM Role with web identity",
                f"{role_arn}: {error.response.get('Error', {}).get('Message', error)}",
            ) from None
        return self._session_from(reply["Credentials"])

    def _assume(self, session: boto3.session.Session, role: State) -> boto3.session.Session:
        """One ``assume_role`` block (several chain, in order), from ``session``."""
        kwargs: dict[str, Any] = {
            "RoleArn": role["role_arn"],
            "RoleSessionName": role.get("session_name") or "terraform",
        }
        if role.get("external_id"):
            kwargs["ExternalId"] = role["external_id"]
        if role.get("source_identity"):
            kwargs["SourceIdentity"] = role["source_identity"]
        if role.get("tags"):
            kwargs["Tags"] = _tag_list(role["tags"])
        if role.get("transitive_tag_keys"):
            kwargs["TransitiveTagKeys"] = sorted(role["transitive_tag_keys"])
        kwargs.update(_session_options(role))
        try:
            reply = self._sts(session).assume_role(**kwargs)
        except ClientError as error:
            raise ProviderError(
                "Cannot assume IAM Role",
                f"{role['role_arn']}: {error.response.get('Error', {}).get('Message', error)}",
            ) from None
        return self._session_from(reply["Credentials"])

    def _session_from(self, credentials: dict[str, Any]) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                session = self._session or boto3.session.Session(region_name=self.region)
                self._clients[service] = session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self._endpoints.get(service),
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                )
            return self._clients[service]

    # --- tags, as the real provider handles them ------------------------------------

    def tags_all(self, tags: dict[str, str] | None) -> dict[str, str]:
        return {**self.default_tags, **(tags or {})}

    def tags_from_api(self, state: State, api_tags: dict[str, str]) -> tuple[Any, Any]:
        """(``tags``, ``tags_all``) from what the API holds: ``tags`` is what is not a
        default tag with its default value."""
        own = {k: v for k, v in api_tags.items() if self.default_tags.get(k) != v}
        if not own and state.get("tags") is None:
            return None, dict(api_tags)
        return own, dict(api_tags)


class AwsResource(Resource):
    provider: AwsProvider
    tagged = False

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        if self.tagged:
            planned["tags_all"] = self.provider.tags_all(planned.get("tags"))
        for key in ("region",):
            if key in self.schema.block.attributes and planned.get(key) is None:
                planned[key] = self.provider.region
        return planned

    def client(self, service: str) -> Any:
        return self.provider.client(service)

    def with_tags(self, state: State, api_tags: dict[str, str]) -> State:
        state["tags"], state["tags_all"] = self.provider.tags_from_api(state, api_tags)
        return state

    @property
    def arn_prefix(self) -> str:
        return f"arn:aws:{{}}:{self.provider.region}:{self.provider.account_id}"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")


def _duration_seconds(text: str) -> int:
    """A Go duration (``"1h"``, ``"15m"``, ``"1h30m"``) in whole seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ProviderError(
            "Invalid duration", f"{text!r} is not a duration such as 15m, 1h or 1h30m."
        )
    return int(sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts))


def _session_options(block: State) -> dict[str, Any]:
    """What ``assume_role`` and ``assume_role_with_web_identity`` share."""
    options: dict[str, Any] = {}
    if block.get("duration"):
        options["DurationSeconds"] = _duration_seconds(block["duration"])
    if block.get("policy"):
        options["Policy"] = block["policy"]
    if block.get("policy_arns"):
        options["PolicyArns"] = [{"arn": arn} for arn in sorted(block["policy_arns"])]
    return options


def _tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: v} for k, v in tags.items()]


def _tag_dict(tags: list[dict] | None, key: str = "Key", value: str = "Value") -> dict:
    return {t[key]: t[value] for t in tags or []}


# --- Organizations ------------------------------------------------------------------------


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
            organizations.tag_resource(ResourceId=resource_id, Tags=_tag_list(changed))

    def parent_of(self, child_id: str) -> str:
        parents = self.client("organizations").list_parents(ChildId=child_id)["Parents"]
        return parents[0]["Id"] if parents else ""


class Organization(AwsResource):
    type_name = "aws_organizations_organization"

    def create(self, planned: State, config: State) -> State:
        organizations = self.client("organizations")
        organizations.create_organization(FeatureSet=planned["feature_set"])
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
        described = _missing(
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
                "joined_timestamp": _timestamp(a.get("JoinedTimestamp")),
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


def _timestamp(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


class OrganizationalUnit(OrgTagged):
    type_name = "aws_organizations_organizational_unit"

    def create(self, planned: State, config: State) -> State:
        unit = self.client("organizations").create_organizational_unit(
            ParentId=planned["parent_id"],
            Name=planned["name"],
            Tags=_tag_list(planned.get("tags_all") or {}),
        )["OrganizationalUnit"]
        return self.read({**planned, "id": unit["Id"]}) or {}

    def read(self, state: State) -> State | None:
        organizations = self.client("organizations")
        found = _missing(
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
            "Tags": _tag_list(planned.get("tags_all") or {}),
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
        found = _missing(
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
            Tags=_tag_list(planned.get("tags_all") or {}),
        )["Policy"]
        return self.read({**planned, "id": policy["PolicySummary"]["Id"]}) or {}

    def read(self, state: State) -> State | None:
        found = _missing(
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
            "content": _policy(state, "content", policy["Content"]),
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
        targets = _missing(
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


# --- KMS --------------------------------------------------------------------------------


class KmsKey(AwsResource):
    type_name = "aws_kms_key"
    tagged = True

    def create(self, planned: State, config: State) -> State:
        kms = self.client("kms")
        arguments: dict[str, Any] = {
            "KeyUsage": planned["key_usage"],
            "KeySpec": planned["customer_master_key_spec"],
            "BypassPolicyLockoutSafetyCheck": bool(
                planned.get("bypass_policy_lockout_safety_check")
            ),
            "Tags": _tag_list(planned.get("tags_all") or {}, "TagKey", "TagValue"),
        }
        if isinstance(planned.get("description"), str):
            arguments["Description"] = planned["description"]
        if isinstance(planned.get("policy"), str):
            arguments["Policy"] = planned["policy"]
        if planned.get("multi_region"):
            arguments["MultiRegion"] = True
        key = kms.create_key(**arguments)["KeyMetadata"]
        if planned.get("enable_key_rotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        if planned.get("is_enabled") is False:
            kms.disable_key(KeyId=key["KeyId"])
        return self.read({**planned, "id": key["KeyId"], "key_id": key["KeyId"]}) or {}

    def read(self, state: State) -> State | None:
        kms = self.client("kms")
        found = _missing(lambda: kms.describe_key(KeyId=state["id"]), "NotFoundException")
        if found is None or found["KeyMetadata"]["KeyState"] == "PendingDeletion":
            return None
        key = found["KeyMetadata"]
        policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        rotation = kms.get_key_rotation_status(KeyId=key["KeyId"])
        tags = _tag_dict(kms.list_resource_tags(KeyId=key["KeyId"])["Tags"], "TagKey", "TagValue")
        state = {
            **state,
            "id": key["KeyId"],
            "key_id": key["KeyId"],
            "arn": key["Arn"],
            "description": key.get("Description", ""),
            "key_usage": key["KeyUsage"],
            "customer_master_key_spec": key.get("KeySpec", key.get("CustomerMasterKeySpec")),
            "is_enabled": key["Enabled"],
            "multi_region": bool(key.get("MultiRegion")),
            "enable_key_rotation": bool(rotation.get("KeyRotationEnabled")),
            "rotation_period_in_days": rotation.get("RotationPeriodInDays")
            or state.get("rotation_period_in_days"),
            "policy": _policy(state, "policy", policy),
            "region": self.provider.region,
        }
        if state.get("rotation_period_in_days") is None and state["enable_key_rotation"]:
            state["rotation_period_in_days"] = 365
        return self.with_tags(state, tags)

    def update(self, prior: State, planned: State, config: State) -> State:
        kms, key_id = self.client("kms"), prior["id"]
        if planned.get("description") != prior.get("description"):
            kms.update_key_description(KeyId=key_id, Description=planned.get("description") or "")
        if isinstance(planned.get("policy"), str) and not _same_json(
            planned["policy"], prior.get("policy")
        ):
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=planned["policy"])
        if planned.get("enable_key_rotation") != prior.get("enable_key_rotation"):
            if planned.get("enable_key_rotation"):
                kms.enable_key_rotation(KeyId=key_id)
            else:
                kms.disable_key_rotation(KeyId=key_id)
        if planned.get("is_enabled") != prior.get("is_enabled"):
            (kms.enable_key if planned.get("is_enabled") else kms.disable_key)(KeyId=key_id)
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [k for k in old if k not in new]
        if removed:
            kms.untag_resource(KeyId=key_id, TagKeys=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            kms.tag_resource(KeyId=key_id, Tags=_tag_list(changed, "TagKey", "TagValue"))
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("kms").schedule_key_deletion(
            KeyId=prior["id"], PendingWindowInDays=int(prior.get("deletion_window_in_days") or 30)
        )

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id, "bypass_policy_lockout_safety_check": False})


class KmsAlias(AwsResource):
    type_name = "aws_kms_alias"

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        planned = super().plan(planned, prior, config)
        if planned.get("name") is UNKNOWN and config.get("name_prefix") is None:
            planned["name_prefix"] = None if prior is None else prior.get("name_prefix")
        return planned

    def create(self, planned: State, config: State) -> State:
        name = planned.get("name")
        if not isinstance(name, str):
            raise ProviderError("aws_kms_alias needs a name here (name_prefix is not supported)")
        self.client("kms").create_alias(AliasName=name, TargetKeyId=planned["target_key_id"])
        return self.read({**planned, "id": name}) or {}

    def read(self, state: State) -> State | None:
        kms = self.client("kms")
        for page in kms.get_paginator("list_aliases").paginate():
            for alias in page["Aliases"]:
                if alias["AliasName"] == state["id"] and alias.get("TargetKeyId"):
                    key = kms.describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
                    target = state.get("target_key_id")
                    return {
                        **state,
                        "id": alias["AliasName"],
                        "name": alias["AliasName"],
                        "name_prefix": state.get("name_prefix"),
                        "arn": alias["AliasArn"],
                        "target_key_id": target
                        if target in (key["KeyId"], key["Arn"])
                        else key["KeyId"],
                        "target_key_arn": key["Arn"],
                        "region": self.provider.region,
                    }
        return None

    def update(self, prior: State, planned: State, config: State) -> State:
        self.client("kms").update_alias(AliasName=prior["id"], TargetKeyId=planned["target_key_id"])
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("kms").delete_alias(AliasName=prior["id"])


# --- S3 ---------------------------------------------------------------------------------

_S3_HOSTED_ZONES = {"us-east-1": "Z3AQBSTGFYJSTF", "eu-west-1": "Z1BKCTXD74EZPE"}


class Bucket(AwsResource):
    type_name = "aws_s3_bucket"
    tagged = True

    def create(self, planned: State, config: State) -> State:
        s3, name = self.client("s3"), planned.get("bucket")
        if not isinstance(name, str):
            raise ProviderError(
                "aws_s3_bucket needs a bucket name here (bucket_prefix is not supported)"
            )
        arguments: dict[str, Any] = {"Bucket": name}
        if self.provider.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.provider.region}
        if planned.get("object_lock_enabled"):
            arguments["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**arguments)
        tags = planned.get("tags_all") or {}
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(tags)})
        return self.read({**planned, "id": name}) or {}

    def read(self, state: State) -> State | None:
        s3, name = self.client("s3"), state["id"]
        if _missing(lambda: s3.head_bucket(Bucket=name), "NoSuchBucket", "404") is None:
            return None
        tagging = _missing(lambda: s3.get_bucket_tagging(Bucket=name), "NoSuchTagSet")
        lock = _missing(
            lambda: s3.get_object_lock_configuration(Bucket=name),
            "ObjectLockConfigurationNotFoundError",
            "InvalidRequest",
        )
        region = self.provider.region
        state = {
            **state,
            "id": name,
            "bucket": name,
            "bucket_prefix": state.get("bucket_prefix"),
            "arn": f"arn:aws:s3:::{name}",
            "bucket_domain_name": f"{name}.s3.amazonaws.com",
            "bucket_regional_domain_name": f"{name}.s3.{region}.amazonaws.com",
            "hosted_zone_id": _S3_HOSTED_ZONES.get(region, "Z3AQBSTGFYJSTF"),
            "region": region,
            "object_lock_enabled": bool(
                lock
                and lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            ),
            "force_destroy": state.get("force_destroy", False),
        }
        return self.with_tags(state, _tag_dict((tagging or {}).get("TagSet")))

    def update(self, prior: State, planned: State, config: State) -> State:
        s3, tags = self.client("s3"), planned.get("tags_all") or {}
        if tags != (prior.get("tags_all") or {}):
            if tags:
                s3.put_bucket_tagging(Bucket=prior["id"], Tagging={"TagSet": _tag_list(tags)})
            else:
                s3.delete_bucket_tagging(Bucket=prior["id"])
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        s3, name = self.client("s3"), prior["id"]
        if prior.get("force_destroy"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
        s3.delete_bucket(Bucket=name)

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id, "force_destroy": False})


class BucketPart(AwsResource):
    """A resource that configures one aspect of a bucket; its id is the bucket name."""

    def create(self, planned: State, config: State) -> State:
        self.put(planned)
        return self.read({**planned, "id": planned["bucket"]}) or {}

    def update(self, prior: State, planned: State, config: State) -> State:
        self.put(planned)
        return self.read(planned) or {}

    def put(self, planned: State) -> None:
        raise NotImplementedError

    def get(self, bucket: str) -> Any:
        raise NotImplementedError

    def read(self, state: State) -> State | None:
        bucket = state["id"]
        found = self.get(bucket)
        if found is None:
            return None
        return {
            **state,
            "id": bucket,
            "bucket": bucket,
            "region": self.provider.region,
            **self.from_api(state, found),
        }

    def from_api(self, state: State, found: Any) -> State:
        raise NotImplementedError


class PublicAccessBlock(BucketPart):
    type_name = "aws_s3_bucket_public_access_block"
    _fields: ClassVar[dict[str, str]] = {
        "block_public_acls": "BlockPublicAcls",
        "block_public_policy": "BlockPublicPolicy",
        "ignore_public_acls": "IgnorePublicAcls",
        "restrict_public_buckets": "RestrictPublicBuckets",
    }

    def put(self, planned: State) -> None:
        self.client("s3").put_public_access_block(
            Bucket=planned["bucket"],
            PublicAccessBlockConfiguration={
                api: bool(planned.get(name)) for name, api in self._fields.items()
            },
        )

    def get(self, bucket: str) -> Any:
        return _missing(
            lambda: self.client("s3").get_public_access_block(Bucket=bucket),
            "NoSuchPublicAccessBlockConfiguration",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        configuration = found["PublicAccessBlockConfiguration"]
        return {name: bool(configuration.get(api)) for name, api in self._fields.items()}

    def delete(self, prior: State) -> None:
        if not prior.get("skip_destroy"):
            self.client("s3").delete_public_access_block(Bucket=prior["bucket"])


class OwnershipControls(BucketPart):
    type_name = "aws_s3_bucket_ownership_controls"

    def put(self, planned: State) -> None:
        self.client("s3").put_bucket_ownership_controls(
            Bucket=planned["bucket"],
            OwnershipControls={
                "Rules": [{"ObjectOwnership": r["object_ownership"]} for r in planned["rule"]]
            },
        )

    def get(self, bucket: str) -> Any:
        return _missing(
            lambda: self.client("s3").get_bucket_ownership_controls(Bucket=bucket),
            "OwnershipControlsNotFoundError",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        rules = found["OwnershipControls"]["Rules"]
        return {"rule": [{"object_ownership": r["ObjectOwnership"]} for r in rules]}

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_ownership_controls(Bucket=prior["bucket"])


class Versioning(BucketPart):
    type_name = "aws_s3_bucket_versioning"

    def put(self, planned: State) -> None:
        rule = planned["versioning_configuration"][0]
        configuration = {"Status": rule["status"]}
        if isinstance(rule.get("mfa_delete"), str):
            configuration["MFADelete"] = rule["mfa_delete"]
        arguments: dict[str, Any] = {
            "Bucket": planned["bucket"],
            "VersioningConfiguration": configuration,
        }
        if planned.get("mfa"):
            arguments["MFA"] = planned["mfa"]
        self.client("s3").put_bucket_versioning(**arguments)

    def get(self, bucket: str) -> Any:
        found = _missing(
            lambda: self.client("s3").get_bucket_versioning(Bucket=bucket), "NoSuchBucket"
        )
        return found if found and found.get("Status") else None

    def from_api(self, state: State, found: Any) -> State:
        return {
            "versioning_configuration": [
                {"status": found["Status"], "mfa_delete": found.get("MFADelete", "Disabled")}
            ]
        }

    def delete(self, prior: State) -> None:
        self.client("s3").put_bucket_versioning(
            Bucket=prior["bucket"], VersioningConfiguration={"Status": "Suspended"}
        )


class ServerSideEncryption(BucketPart):
    type_name = "aws_s3_bucket_server_side_encryption_configuration"

    def put(self, planned: State) -> None:
        rules = []
        for rule in planned["rule"]:
            api: dict[str, Any] = {}
            if rule.get("bucket_key_enabled") is not None:
                api["BucketKeyEnabled"] = rule["bucket_key_enabled"]
            for default in rule.get("apply_server_side_encryption_by_default") or []:
                api["ApplyServerSideEncryptionByDefault"] = {
                    "SSEAlgorithm": default["sse_algorithm"]
                }
                if default.get("kms_master_key_id"):
                    api["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default[
                        "kms_master_key_id"
                    ]
            rules.append(api)
        self.client("s3").put_bucket_encryption(
            Bucket=planned["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
        )

    def get(self, bucket: str) -> Any:
        return _missing(
            lambda: self.client("s3").get_bucket_encryption(Bucket=bucket),
            "ServerSideEncryptionConfigurationNotFoundError",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        rules = []
        for rule in found["ServerSideEncryptionConfiguration"]["Rules"]:
            default = rule.get("ApplyServerSideEncryptionByDefault")
            rules.append(
                {
                    "bucket_key_enabled": rule.get("BucketKeyEnabled"),
                    "apply_server_side_encryption_by_default": [
                        {
                            "sse_algorithm": default["SSEAlgorithm"],
                            "kms_master_key_id": default.get("KMSMasterKeyID"),
                        }
                    ]
                    if default
                    else [],
                }
            )
        return {"rule": rules}

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_encryption(Bucket=prior["bucket"])


def _one(items: Any) -> dict[str, Any] | None:
    return items[0] if isinstance(items, list) and items else None


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


class LifecycleConfiguration(BucketPart):
    type_name = "aws_s3_bucket_lifecycle_configuration"

    def put(self, planned: State) -> None:
        rules = []
        for rule in planned["rule"]:
            api: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"]}
            filter_ = _one(rule.get("filter"))
            if filter_ is not None:
                api_filter: dict[str, Any] = {}
                if isinstance(filter_.get("prefix"), str):
                    api_filter["Prefix"] = filter_["prefix"]
                for name, key in (
                    ("object_size_greater_than", "ObjectSizeGreaterThan"),
                    ("object_size_less_than", "ObjectSizeLessThan"),
                ):
                    if isinstance(filter_.get(name), int | float):
                        api_filter[key] = int(filter_[name])
                tag = _one(filter_.get("tag"))
                if tag:
                    api_filter["Tag"] = {"Key": tag["key"], "Value": tag["value"]}
                api["Filter"] = api_filter
            elif isinstance(rule.get("prefix"), str):
                api["Prefix"] = rule["prefix"]
            expiration = _one(rule.get("expiration"))
            if expiration:
                api["Expiration"] = _drop_none(
                    {
                        "Date": expiration.get("date"),
                        "Days": int(expiration["days"])
                        if isinstance(expiration.get("days"), int | float)
                        else None,
                        "ExpiredObjectDeleteMarker": expiration.get("expired_object_delete_marker")
                        if isinstance(expiration.get("expired_object_delete_marker"), bool)
                        and not expiration.get("days")
                        else None,
                    }
                )
            noncurrent = _one(rule.get("noncurrent_version_expiration"))
            if noncurrent:
                api["NoncurrentVersionExpiration"] = _drop_none(
                    {
                        "NoncurrentDays": int(noncurrent["noncurrent_days"]),
                        "NewerNoncurrentVersions": noncurrent.get("newer_noncurrent_versions"),
                    }
                )
            abort = _one(rule.get("abort_incomplete_multipart_upload"))
            if abort and abort.get("days_after_initiation") is not None:
                api["AbortIncompleteMultipartUpload"] = {
                    "DaysAfterInitiation": int(abort["days_after_initiation"])
                }
            transitions = [
                _drop_none(
                    {
                        "Date": t.get("date"),
                        "Days": int(t["days"]) if isinstance(t.get("days"), int | float) else None,
                        "StorageClass": t["storage_class"],
                    }
                )
                for t in rule.get("transition") or []
            ]
            if transitions:
                api["Transitions"] = transitions
            rules.append(api)
        self.client("s3").put_bucket_lifecycle_configuration(
            Bucket=planned["bucket"], LifecycleConfiguration={"Rules": rules}
        )

    def get(self, bucket: str) -> Any:
        return _missing(
            lambda: self.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket),
            "NoSuchLifecycleConfiguration",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        rules = []
        for rule in found.get("Rules", []):
            filter_ = rule.get("Filter")
            expiration = rule.get("Expiration")
            noncurrent = rule.get("NoncurrentVersionExpiration")
            abort = rule.get("AbortIncompleteMultipartUpload")
            rules.append(
                {
                    "id": rule.get("ID"),
                    "status": rule.get("Status"),
                    "prefix": rule.get("Prefix", ""),
                    "filter": [
                        {
                            "prefix": filter_.get("Prefix", ""),
                            "object_size_greater_than": filter_.get("ObjectSizeGreaterThan"),
                            "object_size_less_than": filter_.get("ObjectSizeLessThan"),
                            "tag": [
                                {"key": filter_["Tag"]["Key"], "value": filter_["Tag"]["Value"]}
                            ]
                            if filter_.get("Tag")
                            else [],
                            "and": [],
                        }
                    ]
                    if filter_ is not None
                    else [],
                    "expiration": [
                        {
                            "date": _timestamp(expiration.get("Date")),
                            "days": expiration.get("Days", 0),
                            "expired_object_delete_marker": bool(
                                expiration.get("ExpiredObjectDeleteMarker", False)
                            ),
                        }
                    ]
                    if expiration
                    else [],
                    "noncurrent_version_expiration": [
                        {
                            "noncurrent_days": noncurrent.get("NoncurrentDays"),
                            "newer_noncurrent_versions": noncurrent.get("NewerNoncurrentVersions"),
                        }
                    ]
                    if noncurrent
                    else [],
                    "abort_incomplete_multipart_upload": [
                        {"days_after_initiation": abort.get("DaysAfterInitiation")}
                    ]
                    if abort
                    else [],
                    "transition": [
                        {
                            "date": _timestamp(t.get("Date")),
                            "days": t.get("Days"),
                            "storage_class": t["StorageClass"],
                        }
                        for t in rule.get("Transitions") or []
                    ],
                    "noncurrent_version_transition": [],
                }
            )
        return {
            "rule": rules,
            "transition_default_minimum_object_size": found.get(
                "TransitionDefaultMinimumObjectSize", "all_storage_classes_128K"
            ),
        }

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_lifecycle(Bucket=prior["bucket"])


class BucketPolicy(BucketPart):
    type_name = "aws_s3_bucket_policy"

    def put(self, planned: State) -> None:
        self.client("s3").put_bucket_policy(Bucket=planned["bucket"], Policy=planned["policy"])

    def get(self, bucket: str) -> Any:
        return _missing(
            lambda: self.client("s3").get_bucket_policy(Bucket=bucket),
            "NoSuchBucketPolicy",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        return {"policy": _policy(state, "policy", found["Policy"])}

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_policy(Bucket=prior["bucket"])


# --- CloudTrail -------------------------------------------------------------------------


class Trail(AwsResource):
    type_name = "aws_cloudtrail"
    tagged = True

    def _arguments(self, planned: State) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "Name": planned["name"],
            "S3BucketName": planned["s3_bucket_name"],
            "IncludeGlobalServiceEvents": bool(planned.get("include_global_service_events")),
            "IsMultiRegionTrail": bool(planned.get("is_multi_region_trail")),
            "EnableLogFileValidation": bool(planned.get("enable_log_file_validation")),
            "IsOrganizationTrail": bool(planned.get("is_organization_trail")),
        }
        for name, key in (
            ("s3_key_prefix", "S3KeyPrefix"),
            ("kms_key_id", "KmsKeyId"),
            ("sns_topic_name", "SnsTopicName"),
            ("cloud_watch_logs_group_arn", "CloudWatchLogsLogGroupArn"),
            ("cloud_watch_logs_role_arn", "CloudWatchLogsRoleArn"),
        ):
            if planned.get(name):
                arguments[key] = planned[name]
        return arguments

    def create(self, planned: State, config: State) -> State:
        cloudtrail = self.client("cloudtrail")
        arguments = self._arguments(planned)
        tags = planned.get("tags_all") or {}
        if tags:
            arguments["TagsList"] = _tag_list(tags)
        trail = cloudtrail.create_trail(**arguments)
        if planned.get("enable_logging", True):
            cloudtrail.start_logging(Name=trail["TrailARN"])
        return self.read({**planned, "id": planned["name"]}) or {}

    def read(self, state: State) -> State | None:
        cloudtrail = self.client("cloudtrail")
        found = _missing(lambda: cloudtrail.get_trail(Name=state["id"]), "TrailNotFoundException")
        if found is None:
            return None
        trail = found["Trail"]
        status = cloudtrail.get_trail_status(Name=trail["TrailARN"])
        tags = cloudtrail.list_tags(ResourceIdList=[trail["TrailARN"]])["ResourceTagList"]
        state = {
            **state,
            "id": trail["Name"],
            "name": trail["Name"],
            "arn": trail["TrailARN"],
            "home_region": trail.get("HomeRegion"),
            "s3_bucket_name": trail["S3BucketName"],
            "s3_key_prefix": trail.get("S3KeyPrefix"),
            "kms_key_id": trail.get("KmsKeyId"),
            "include_global_service_events": trail.get("IncludeGlobalServiceEvents", False),
            "is_multi_region_trail": trail.get("IsMultiRegionTrail", False),
            "is_organization_trail": trail.get("IsOrganizationTrail", False),
            "enable_log_file_validation": trail.get("LogFileValidationEnabled", False),
            "enable_logging": bool(status.get("IsLogging")),
            "sns_topic_name": trail.get("SnsTopicName"),
            "sns_topic_arn": trail.get("SnsTopicARN"),
            "cloud_watch_logs_group_arn": trail.get("CloudWatchLogsLogGroupArn"),
            "cloud_watch_logs_role_arn": trail.get("CloudWatchLogsRoleArn"),
            "region": self.provider.region,
        }
        return self.with_tags(state, _tag_dict(tags[0].get("TagsList") if tags else []))

    def update(self, prior: State, planned: State, config: State) -> State:
        cloudtrail = self.client("cloudtrail")
        cloudtrail.update_trail(**self._arguments(planned))
        if planned.get("enable_logging") != prior.get("enable_logging"):
            if planned.get("enable_logging"):
                cloudtrail.start_logging(Name=prior["arn"])
            else:
                cloudtrail.stop_logging(Name=prior["arn"])
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [{"Key": k} for k in old if k not in new]
        if removed:
            cloudtrail.remove_tags(ResourceId=prior["arn"], TagsList=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            cloudtrail.add_tags(ResourceId=prior["arn"], TagsList=_tag_list(changed))
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        self.client("cloudtrail").delete_trail(Name=prior["id"])


# --- data sources -----------------------------------------------------------------------


class Partition(DataSource):
    type_name = "aws_partition"

    def read(self, config: State) -> State:
        return {
            "id": "aws",
            "partition": "aws",
            "dns_suffix": "amazonaws.com",
            "reverse_dns_prefix": "com.amazonaws",
        }


class CallerIdentity(DataSource):
    type_name = "aws_caller_identity"

    def read(self, config: State) -> State:
        identity = self.provider.client("sts").get_caller_identity()
        return {
            "id": identity["Account"],
            "account_id": identity["Account"],
            "arn": identity["Arn"],
            "user_id": identity["UserId"],
        }


class Region(DataSource):
    type_name = "aws_region"

    def read(self, config: State) -> State:
        region = self.provider.region
        return {
            "id": region,
            "name": region,
            "region": region,
            "endpoint": f"ec2.{region}.amazonaws.com",
            "description": region,
        }


def _one_or_list(values: list[str]) -> str | list[str]:
    ordered = sorted(set(values))
    return ordered[0] if len(ordered) == 1 else ordered


class PolicyDocument(DataSource):
    """``aws_iam_policy_document``: the JSON the real data source renders (single values as
    strings, several as a list; ``principals { type = "*" identifiers = ["*"] }`` as
    ``"Principal": "*"``). Left out: ``source_policy_documents`` and
    ``override_policy_documents`` merging (not used by the monorepo)."""

    type_name = "aws_iam_policy_document"

    def read(self, config: State) -> State:
        if config.get("source_policy_documents") or config.get("override_policy_documents"):
            raise ProviderError("source/override_policy_documents are not supported here")
        statements = []
        for statement in config.get("statement") or []:
            rendered: dict[str, Any] = {}
            if statement.get("sid"):
                rendered["Sid"] = statement["sid"]
            rendered["Effect"] = statement.get("effect") or "Allow"
            for name, key in (
                ("actions", "Action"),
                ("not_actions", "NotAction"),
                ("resources", "Resource"),
                ("not_resources", "NotResource"),
            ):
                if statement.get(name):
                    rendered[key] = _one_or_list(statement[name])
            for name, key in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
                principals = statement.get(name) or []
                if not principals:
                    continue
                if any(p["type"] == "*" for p in principals):
                    rendered[key] = "*"
                    continue
                grouped: dict[str, list[str]] = {}
                for principal in principals:
                    grouped.setdefault(principal["type"], []).extend(principal["identifiers"])
                rendered[key] = {t: _one_or_list(ids) for t, ids in sorted(grouped.items())}
            conditions: dict[str, dict[str, Any]] = {}
            for condition in statement.get("condition") or []:
                values = condition["values"]
                conditions.setdefault(condition["test"], {})[condition["variable"]] = (
                    values[0] if len(values) == 1 else values
                )
            if conditions:
                rendered["Condition"] = conditions
            statements.append(rendered)
        document: dict[str, Any] = {"Version": config.get("version") or "2012-10-17"}
        if config.get("policy_id"):
            document["Id"] = config["policy_id"]
        document["Statement"] = statements
        text = json.dumps(document, indent=2)
        return {
            **config,
            "json": text,
            "minified_json": json.dumps(document, separators=(",", ":")),
            "id": str(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)),
        }


class LocalAwsProvider(AwsProvider):
    resource_types: ClassVar[list[type[Resource]]] = [
        Organization,
        OrganizationalUnit,
        Account,
        Policy,
        PolicyAttachment,
        KmsKey,
        KmsAlias,
        Bucket,
        PublicAccessBlock,
        OwnershipControls,
        Versioning,
        ServerSideEncryption,
        LifecycleConfiguration,
        BucketPolicy,
        Trail,
    ]
    data_source_types: ClassVar[list[type[DataSource]]] = [
        Partition,
        CallerIdentity,
        Region,
        PolicyDocument,
    ]
