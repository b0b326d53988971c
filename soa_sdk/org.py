"""Step 0, the foundation: the AWS Organization, its OUs and accounts, a session per account.

The organization is declared once, in ``terraform/org`` (its specification is
``organization.auto.tfvars.json``, read by :mod:`soa_sdk.org_spec` too). :meth:`Organization.
ensure` applies that folder, unchanged, with real Terraform (``lab.tf.apply("org")``,
:mod:`soa_sdk.tf.workspace`): the organization, OUs, accounts, guardrail SCPs and the
organization trail with its bucket and key. It then reads the result back through the
Organizations API. Terraform's state makes a second run a no-op ("No changes"), and a change
made outside Terraform (an account moved by hand) is drift that the next apply puts back.

What Terraform does not do stays here: member accounts are entered through STS ``AssumeRole``
into ``OrganizationAccountAccessRole`` with short-lived credentials (no static key is stored).

Not supported: adopting an organization that Terraform did not create (on AWS, import it
first: ``terraform import aws_organizations_organization.this o-...``); closing accounts (the
folder detaches a removed account, as ``close_on_deletion = false`` says).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3

from soa_sdk import org_spec as spec_module
from soa_sdk import validate
from soa_sdk.awsclient import EndpointSession, translate_client_error
from soa_sdk.errors import NotFound, SoaLabError
from soa_sdk.org_spec import ROOT, AccountSpec, OrganizationSpec
from soa_sdk.tables import Table
from soa_sdk.tf.result import PlanSummary

if TYPE_CHECKING:
    from soa_sdk.tf.workspace import LabTerraform

FOLDER = "org"
ACCESS_ROLE = "OrganizationAccountAccessRole"
REUSE_MARGIN = timedelta(minutes=1)
MIN_SESSION_SECONDS, MAX_SESSION_SECONDS = 900, 3600


@dataclass(frozen=True)
class Account:
    """A member account as it exists in the organization."""

    name: str
    id: str
    email: str
    ou: str
    status: str


@dataclass
class EnsureResult:
    """The organization after :meth:`Organization.ensure`, and what Terraform did."""

    organization_id: str
    root_id: str
    ou_ids: dict[str, str]
    accounts: list[Account]
    terraform: PlanSummary | None = None
    """Terraform's counts and the addresses it created, changed and destroyed."""

    @property
    def created(self) -> list[str]:
        """The addresses this run created (``aws_organizations_account.this["frontend"]``)."""
        return list(self.terraform.created) if self.terraform else []

    @property
    def changed(self) -> list[str]:
        """The resource addresses this run updated in place (drift put back)."""
        return list(self.terraform.changed) if self.terraform else []

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        raise NotFound(f"The organization has no account named '{name}'.")


@dataclass(frozen=True)
class Guardrails:
    """What ``terraform/org`` applies around the accounts, as the APIs show it."""

    trail: str
    organization_trail: bool
    logging: bool
    trail_bucket: str
    policies_by_ou: dict[str, list[str]]
    """The organization's own service control policies on each top-level OU, by name (the
    AWS-managed ``FullAWSAccess``, attached everywhere by AWS, left out)."""


@dataclass
class AccountSession:
    """A boto3 session inside one member account, with short-lived credentials."""

    account: Account
    session: boto3.Session
    obtained_by: str
    expires_at: datetime | None

    def client(self, service: str, **kwargs: Any) -> Any:
        return self.session.client(service, **kwargs)

    def __repr__(self) -> str:
        expiry = self.expires_at.isoformat(timespec="seconds") if self.expires_at else "n/a"
        return (
            f"AccountSession(account={self.account.name!r}, id={self.account.id!r}, "
            f"obtained_by={self.obtained_by!r}, expires_at={expiry!r})"
        )


class Organization:
    """The organization of the lab, built from its specification."""

    def __init__(
        self,
        management: EndpointSession,
        terraform: LabTerraform,
        spec: OrganizationSpec | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.management = management
        self.terraform = terraform
        self.spec = spec or spec_module.load()
        self._progress = progress or (lambda message: None)
        self._client = management.client("organizations")
        self._sessions: dict[tuple[str, int], AccountSession] = {}

    # -- building ----------------------------------------------------------------------------
    def ensure(self) -> EnsureResult:
        """``terraform apply`` of ``terraform/org``, then the organization as the API shows it;
        safe to run again (the second apply has no changes)."""
        applied = self.terraform.apply(FOLDER, self._variables())
        self._progress(f"terraform/{FOLDER}: {applied.counts()}")
        return self._read_back(applied)

    def require(self) -> EnsureResult:
        """Step 0's organization for a later step: read back through the API (a few
        Organizations calls) when it is there as declared, else :meth:`ensure` (which applies
        ``terraform/org``). A later step needs the organization to exist; putting back drift
        is step 0's ``ensure()``, which costs a Terraform refresh of every resource."""
        try:
            return self._read_back(None)
        except NotFound:
            return self.ensure()

    def add_account(self, account: AccountSpec) -> Account:
        """Create (or keep) one more account, validated before any call (used by step 5): the
        folder applied with the specification plus ``account``. It is then in the folder's
        state: applying the folder from its file alone would detach it again."""
        spec_module.validate_account(account, self.spec.ou_names())
        self.spec = self.spec.with_account(account)
        return self.ensure().account(account.name)

    def _variables(self) -> dict[str, Any] | None:
        """``var.organization`` when this object's specification is not the folder's file's
        (an account added by step 5); None to apply the folder as it is."""
        if self.spec == spec_module.load():
            return None
        return {"organization": self.spec.document()}

    def _read_back(self, applied: PlanSummary | None) -> EnsureResult:
        organization = self._call("read the organization", "describe_organization")["Organization"]
        ou_ids = self.ou_ids()
        missing_ous = [ou for ou in self.spec.ou_names() if ou not in ou_ids]
        if missing_ous:
            missing_text = ", ".join(missing_ous)
            raise NotFound(
                f"terraform/{FOLDER} was applied but these OUs are missing: {missing_text}"
            )
        accounts = self._accounts_by_ou(ou_ids)
        placed = {(a.name, a.ou) for a in accounts}
        missing = {a.name for a in self.spec.accounts if (a.name, a.ou) not in placed}
        if missing:
            raise NotFound(
                f"terraform/{FOLDER} was applied but these accounts are not in their OU: "
                + ", ".join(sorted(missing))
            )
        return EnsureResult(str(organization["Id"]), ou_ids[ROOT], ou_ids, accounts, applied)

    # -- reading -----------------------------------------------------------------------------
    def accounts(self) -> list[Account]:
        """The member accounts with the OU each sits in (the management account excluded)."""
        return self._accounts_by_ou(self.ou_ids())

    def ou_ids(self) -> dict[str, str]:
        """The ids of the root and of the declared OUs that exist, by name."""
        ou_ids = {ROOT: self._root_id()}
        for unit in self.spec.organizational_units:
            ou_id = self._find_ou(unit.name, ou_ids.get(unit.parent, ""))
            if ou_id:
                ou_ids[unit.name] = ou_id
        return ou_ids

    def guardrails(self, region: str | None = None) -> Guardrails:
        """The organization trail (CloudTrail ``GetTrail``, ``GetTrailStatus``) and the SCPs
        on each top-level OU (Organizations ``ListPoliciesForTarget``), read from the APIs."""
        if region is not None:
            validate.REGION.check(region)
        name = f"{self.spec.name}-organization-trail"
        cloudtrail = self.management.client(
            "cloudtrail", region_name=region or self.management.region_name
        )
        try:
            trail = cloudtrail.get_trail(Name=name)["Trail"]
            status = cloudtrail.get_trail_status(Name=name)
        except Exception as error:
            raise translate_client_error(error, f"read the trail '{name}'") from None
        top = {ou.name for ou in self.spec.organizational_units if ou.parent == ROOT}
        policies = {}
        for ou_name, ou_id in self.ou_ids().items():
            if ou_name in top:
                policies[ou_name] = [
                    policy["Name"]
                    for policy in self._pages(
                        f"list the policies of {ou_name}",
                        "list_policies_for_target",
                        "Policies",
                        TargetId=ou_id,
                        Filter="SERVICE_CONTROL_POLICY",
                    )
                    if not policy.get("AwsManaged")
                ]
        return Guardrails(
            name,
            bool(trail.get("IsOrganizationTrail")),
            bool(status.get("IsLogging")),
            str(trail.get("S3BucketName", "")),
            policies,
        )

    def session(
        self,
        name: str,
        duration_seconds: int = MIN_SESSION_SECONDS,
        accounts: list[Account] | None = None,
    ) -> AccountSession:
        """A session inside account ``name`` through STS ``AssumeRole`` (no static keys).

        Sessions are reused until a minute before they expire, so a step does not assume a
        role for every call. ``accounts``: the organization's accounts if already read
        (:meth:`sessions` reads them once for all), else they are read here.
        """
        self._check_session(name, duration_seconds)
        cached = self._sessions.get((name, duration_seconds))
        if cached and cached.expires_at and cached.expires_at - REUSE_MARGIN > _now(cached):
            return cached
        fresh = self._assume(name, duration_seconds, accounts)
        self._sessions[(name, duration_seconds)] = fresh
        return fresh

    def _check_session(self, name: str, duration_seconds: int) -> None:
        """A declared account, and a duration a role chain allows (STS caps it at an hour)."""
        self.spec.account(name)
        validate.whole(
            duration_seconds,
            "duration_seconds (a session entered through a role chain)",
            MIN_SESSION_SECONDS,
            MAX_SESSION_SECONDS,
            " seconds",
        )

    def _assume(
        self, name: str, duration_seconds: int, accounts: list[Account] | None
    ) -> AccountSession:
        account = next((a for a in accounts or self.accounts() if a.name == name), None)
        if account is None:
            raise NotFound(
                f"The account '{name}' is declared but does not exist yet: run step 0 "
                "(`lab.org.ensure()`) first."
            )
        role_arn = f"arn:aws:iam::{account.id}:role/{ACCESS_ROLE}"
        try:
            reply = self.management.client("sts").assume_role(
                RoleArn=role_arn,
                RoleSessionName=f"soa-lab-{name}"[:64],
                DurationSeconds=duration_seconds,
            )
        except Exception as error:
            raise translate_client_error(error, f"enter account '{name}' ({role_arn})") from None
        credentials = reply["Credentials"]
        session = EndpointSession(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.management.region_name,
            endpoint_url=self.management.endpoint_url,
        )
        return AccountSession(
            account, session, f"sts:AssumeRole {ACCESS_ROLE}", credentials.get("Expiration")
        )

    def sessions(self, duration_seconds: int = MIN_SESSION_SECONDS) -> dict[str, AccountSession]:
        """A session for every declared account (the organization's accounts read once)."""
        for a in self.spec.accounts:
            self._check_session(a.name, duration_seconds)
        existing = self.accounts()
        return {
            a.name: self.session(a.name, duration_seconds, existing) for a in self.spec.accounts
        }

    @staticmethod
    def table(sessions: dict[str, AccountSession]) -> Table:
        """The accounts as a table: name, id, OU, and how the session was obtained."""
        rows = []
        for item in sessions.values():
            identity = item.client("sts").get_caller_identity()
            rows.append(
                {
                    "account": item.account.name,
                    "id": item.account.id,
                    "ou": item.account.ou,
                    "session": item.obtained_by,
                    "caller": identity["Arn"].split("/", 1)[-1].split("/")[0],
                    "verified in": identity["Account"],
                    "expires": item.expires_at.strftime("%H:%M:%S") if item.expires_at else "",
                }
            )
        return Table(rows, title="Accounts of the organization")

    # -- AWS calls -------------------------------------------------------------------------
    def _call(self, doing: str, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, method)(**kwargs)
        except Exception as error:
            raise translate_client_error(error, doing) from None

    def _pages(self, doing: str, method: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        try:
            for page in self._client.get_paginator(method).paginate(**kwargs):
                yield from page[key]
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, doing) from None

    def _root_id(self) -> str:
        roots = list(self._pages("list the organization's roots", "list_roots", "Roots"))
        if not roots:
            raise NotFound("The organization has no root; it may still be initializing.")
        return str(roots[0]["Id"])

    def _find_ou(self, name: str, parent_id: str) -> str | None:
        if not parent_id:
            return None
        for unit in self._pages(
            f"list the OUs under {parent_id}",
            "list_organizational_units_for_parent",
            "OrganizationalUnits",
            ParentId=parent_id,
        ):
            if unit["Name"] == name:
                return str(unit["Id"])
        return None

    def _accounts_by_ou(self, ou_ids: dict[str, str]) -> list[Account]:
        declared = {a.name for a in self.spec.accounts}
        result = []
        for ou_name, ou_id in ou_ids.items():
            for found in self._pages(
                f"list the accounts of {ou_name}",
                "list_accounts_for_parent",
                "Accounts",
                ParentId=ou_id,
            ):
                if found["Name"] in declared:
                    result.append(
                        Account(
                            found["Name"], found["Id"], found["Email"], ou_name, found["Status"]
                        )
                    )
        order = [a.name for a in self.spec.accounts]
        return sorted(result, key=lambda a: order.index(a.name))


def _now(session: AccountSession) -> datetime:
    """Now, in the time zone of the session's expiry (botocore gives an aware datetime)."""
    expiry = session.expires_at
    return datetime.now(expiry.tzinfo) if expiry and expiry.tzinfo else datetime.now(UTC)
