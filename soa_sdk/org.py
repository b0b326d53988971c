"""Step 0, the foundation: the AWS Organization, its OUs and accounts, a session per account.

The organization is declared once, in ``terraform/org/organization.auto.tfvars.json`` (see
:mod:`soa_sdk.org_spec`). :meth:`Organization.ensure` makes AWS match it: it adopts what exists
(the organization, OUs and accounts found by name) and creates only what is missing, so
running it twice changes nothing. Member accounts are entered through STS ``AssumeRole`` into
``OrganizationAccountAccessRole`` with short-lived credentials: no static key is stored.

Real AWS: ``CreateAccount`` is asynchronous; we poll ``DescribeCreateAccountStatus``.
Not supported: closing or removing accounts (AWS keeps closed accounts for 90 days, so a lab
should not churn them), SCPs, delegated administrators.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from soa_sdk import org_spec as spec_module
from soa_sdk import validate
from soa_sdk.awsclient import EndpointSession, translate_client_error
from soa_sdk.errors import NotFound, SoaLabError
from soa_sdk.org_spec import ROOT, AccountSpec, OrganizationSpec
from soa_sdk.tables import Table

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
    """What :meth:`Organization.ensure` found and did."""

    organization_id: str
    root_id: str
    ou_ids: dict[str, str]
    accounts: list[Account]
    created: list[str] = field(default_factory=list)
    """``"ou:NAME"`` and ``"account:NAME"`` for everything this run created."""
    adopted: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)

    def account(self, name: str) -> Account:
        for account in self.accounts:
            if account.name == name:
                return account
        raise NotFound(f"The organization has no account named '{name}'.")


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
        spec: OrganizationSpec | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.management = management
        self.spec = spec or spec_module.load()
        self._progress = progress or (lambda message: None)
        self._client = management.client("organizations")
        self._sessions: dict[tuple[str, int], AccountSession] = {}

    # -- building ----------------------------------------------------------------------------
    def ensure(self, account_timeout: float = 600.0) -> EnsureResult:
        """Make the organization match the specification; safe to run again."""
        validate.number(account_timeout, "account_timeout", unit=" seconds", above=0)
        created: list[str] = []
        adopted: list[str] = []
        moved: list[str] = []
        organization_id = self._ensure_organization(created, adopted)
        root_id = self._root_id()
        ou_ids = {ROOT: root_id}
        for unit in self.spec.organizational_units:
            ou_ids[unit.name] = self._ensure_ou(unit.name, ou_ids[unit.parent], created, adopted)
        existing = {account["Name"]: account for account in self._list_accounts()}
        for wanted in self.spec.accounts:
            found = existing.get(wanted.name)
            if found is None:
                self._create_account(wanted, account_timeout)
                created.append(f"account:{wanted.name}")
            else:
                adopted.append(f"account:{wanted.name}")
        accounts = self._accounts_by_ou(ou_ids)
        by_name = {account.name: account for account in accounts}
        for wanted in self.spec.accounts:
            account = by_name[wanted.name]
            if account.ou != wanted.ou:
                self._move(account, ou_ids, wanted.ou)
                moved.append(f"account:{wanted.name}")
        if moved:
            accounts = self._accounts_by_ou(ou_ids)
        return EnsureResult(organization_id, root_id, ou_ids, accounts, created, adopted, moved)

    def add_account(self, account: AccountSpec, account_timeout: float = 600.0) -> Account:
        """Create (or adopt) one more account, validated before any call (used by step 5)."""
        validate.number(account_timeout, "account_timeout", unit=" seconds", above=0)
        spec_module.validate_account(account, self.spec.ou_names())
        self.spec = self.spec.with_account(account)
        return self.ensure(account_timeout).account(account.name)

    # -- reading -----------------------------------------------------------------------------
    def accounts(self) -> list[Account]:
        """The member accounts with the OU each sits in (the management account excluded)."""
        ou_ids = {ROOT: self._root_id()}
        for unit in self.spec.organizational_units:
            ou_id = self._find_ou(unit.name, ou_ids.get(unit.parent, ""))
            if ou_id:
                ou_ids[unit.name] = ou_id
        return self._accounts_by_ou(ou_ids)

    def session(self, name: str, duration_seconds: int = MIN_SESSION_SECONDS) -> AccountSession:
        """A session inside account ``name`` through STS ``AssumeRole`` (no static keys).

        Sessions are reused until a minute before they expire, so a step does not assume a
        role for every call.
        """
        self._check_session(name, duration_seconds)
        cached = self._sessions.get((name, duration_seconds))
        if cached and cached.expires_at and cached.expires_at - REUSE_MARGIN > _now(cached):
            return cached
        fresh = self._assume(name, duration_seconds)
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

    def _assume(self, name: str, duration_seconds: int) -> AccountSession:
        account = next((a for a in self.accounts() if a.name == name), None)
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
        # Every boto3 session reads the service models from disk again; share them instead.
        session._session.register_component(
            "data_loader", self.management._session.get_component("data_loader")
        )
        return AccountSession(
            account, session, f"sts:AssumeRole {ACCESS_ROLE}", credentials.get("Expiration")
        )

    def sessions(self, duration_seconds: int = MIN_SESSION_SECONDS) -> dict[str, AccountSession]:
        """A session for every declared account."""
        return {a.name: self.session(a.name, duration_seconds) for a in self.spec.accounts}

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

    def _ensure_organization(self, created: list[str], adopted: list[str]) -> str:
        try:
            organization = self._client.describe_organization()["Organization"]
            adopted.append("organization")
            return str(organization["Id"])
        except self._client.exceptions.AWSOrganizationsNotInUseException:
            pass
        except Exception as error:
            raise translate_client_error(error, "read the organization") from None
        reply = self._call(
            "create the organization", "create_organization", FeatureSet=self.spec.feature_set
        )
        created.append("organization")
        self._progress("created the organization")
        return str(reply["Organization"]["Id"])

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

    def _ensure_ou(self, name: str, parent_id: str, created: list[str], adopted: list[str]) -> str:
        found = self._find_ou(name, parent_id)
        if found:
            adopted.append(f"ou:{name}")
            return found
        reply = self._call(
            f"create the OU '{name}'",
            "create_organizational_unit",
            ParentId=parent_id,
            Name=name,
            Tags=[{"Key": "managed-by", "Value": "soa-lab"}],
        )
        created.append(f"ou:{name}")
        self._progress(f"created OU {name}")
        return str(reply["OrganizationalUnit"]["Id"])

    def _list_accounts(self) -> list[dict[str, Any]]:
        return list(self._pages("list the accounts", "list_accounts", "Accounts"))

    def _create_account(self, wanted: AccountSpec, timeout: float) -> None:
        reply = self._call(
            f"create the account '{wanted.name}'",
            "create_account",
            AccountName=wanted.name,
            Email=wanted.email,
            RoleName=ACCESS_ROLE,
            Tags=[{"Key": "managed-by", "Value": "soa-lab"}],
        )
        request_id = reply["CreateAccountStatus"]["Id"]
        deadline = time.monotonic() + timeout
        status = reply["CreateAccountStatus"]
        pause = 0.05  # moto finishes at once; AWS takes a minute or two: back off up to 5 s
        while status["State"] == "IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
            status = self._call(
                f"follow the creation of '{wanted.name}'",
                "describe_create_account_status",
                CreateAccountRequestId=request_id,
            )["CreateAccountStatus"]
        if status["State"] != "SUCCEEDED":
            reason = status.get("FailureReason", "still in progress after the timeout")
            raise SoaLabError(f"AWS could not create the account '{wanted.name}': {reason}.")
        self._progress(f"created account {wanted.name} ({status['AccountId']})")

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

    def _move(self, account: Account, ou_ids: dict[str, str], target_ou: str) -> None:
        self._call(
            f"move '{account.name}' to the OU '{target_ou}'",
            "move_account",
            AccountId=account.id,
            SourceParentId=ou_ids[account.ou],
            DestinationParentId=ou_ids[target_ou],
        )
        self._progress(f"moved account {account.name} to {target_ou}")


def _now(session: AccountSession) -> datetime:
    """Now, in the time zone of the session's expiry (botocore gives an aware datetime)."""
    expiry = session.expires_at
    return datetime.now(expiry.tzinfo) if expiry and expiry.tzinfo else datetime.now(UTC)
