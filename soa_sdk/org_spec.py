"""The organization's specification, shared by Terraform and the SDK.

One file, ``terraform/org/organization.auto.tfvars.json``, declares the organizational units
and accounts. Terraform loads it as the value of ``var.organization`` (``*.auto.tfvars.json``
files are read automatically); step 0 parses the same file, so both always build the same
organization. Everything is validated here, before any API call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soa_sdk import validate
from soa_sdk.errors import SpecificationError, ValidationError
from soa_sdk.paths import terraform_root

ROOT = "Root"


@dataclass(frozen=True)
class OrganizationalUnit:
    name: str
    parent: str = ROOT


@dataclass(frozen=True)
class AccountSpec:
    name: str
    email: str
    ou: str


@dataclass(frozen=True)
class OrganizationSpec:
    """The organization as declared: its name, OUs (parents first) and member accounts."""

    name: str
    feature_set: str
    organizational_units: tuple[OrganizationalUnit, ...]
    accounts: tuple[AccountSpec, ...]

    def account(self, name: str) -> AccountSpec:
        validate.text(name, "An account name")
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise ValidationError(f"There is no account named '{name}' (the accounts are: {known}).")

    def ou_names(self) -> list[str]:
        return [ou.name for ou in self.organizational_units]

    def document(self) -> dict[str, Any]:
        """The value of ``var.organization``, as ``organization.auto.tfvars.json`` holds it."""
        return {
            "name": self.name,
            "feature_set": self.feature_set,
            "organizational_units": [
                {"name": ou.name, "parent": ou.parent} for ou in self.organizational_units
            ],
            "accounts": [{"name": a.name, "email": a.email, "ou": a.ou} for a in self.accounts],
        }

    def with_account(self, account: AccountSpec) -> OrganizationSpec:
        """A copy with one more account, validated like the file."""
        return _validated(
            OrganizationSpec(
                self.name, self.feature_set, self.organizational_units, (*self.accounts, account)
            )
        )


def default_path() -> Path:
    return terraform_root() / "org" / "organization.auto.tfvars.json"


def load(path: Path | None = None) -> OrganizationSpec:
    """Read and validate the organization specification (default: the project's file)."""
    path = path or default_path()
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SpecificationError(f"The organization specification {path} does not exist.") from None
    except ValueError as error:
        raise SpecificationError(
            f"The organization specification {path} is not valid JSON ({error})."
        ) from None
    return parse(document, str(path))


def parse(document: Any, source: str = "the specification") -> OrganizationSpec:
    """Build an :class:`OrganizationSpec` from the tfvars document, or say what is wrong."""
    org = document.get("organization") if isinstance(document, dict) else None
    if not isinstance(org, dict):
        raise SpecificationError(f"{source} must hold an object under the key 'organization'.")
    try:
        units = tuple(
            OrganizationalUnit(str(ou["name"]), str(ou.get("parent", ROOT)))
            for ou in org.get("organizational_units", [])
        )
        accounts = tuple(
            AccountSpec(str(a["name"]), str(a["email"]), str(a["ou"]))
            for a in org.get("accounts", [])
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise SpecificationError(
            f"{source}: every OU needs a 'name' (and may have a 'parent'); every account needs "
            f"'name', 'email' and 'ou' (missing: {error})."
        ) from None
    spec = OrganizationSpec(
        str(org.get("name", "soa-lab")), str(org.get("feature_set", "ALL")), units, accounts
    )
    return _validated(spec, source)


def validate_account(account: AccountSpec, ous: list[str]) -> None:
    """Check one account's name, email and OU; raise :class:`ValidationError` if wrong."""
    validate.instance(account, AccountSpec, "an AccountSpec(name, email, ou)")
    validate.ACCOUNT.check(account.name)
    validate.EMAIL.check(account.email, f"email address for account '{account.name}'")
    if account.ou not in ous:
        raise ValidationError(
            f"Account '{account.name}' names the OU '{account.ou}', which does not exist "
            f"(the OUs are: {', '.join(ous)})."
        )


def _validated(spec: OrganizationSpec, source: str = "the specification") -> OrganizationSpec:
    if spec.feature_set not in ("ALL", "CONSOLIDATED_BILLING"):
        raise SpecificationError(f"{source}: feature_set must be ALL or CONSOLIDATED_BILLING.")
    seen: list[str] = []
    for ou in spec.organizational_units:
        if not validate.OU.matches(ou.name):
            raise SpecificationError(f"{source}: '{ou.name}' is not a valid OU name.")
        if ou.name in seen:
            raise SpecificationError(f"{source}: the OU '{ou.name}' is declared twice.")
        if ou.parent != ROOT and ou.parent not in seen:
            raise SpecificationError(
                f"{source}: the OU '{ou.name}' has the parent '{ou.parent}', which is not "
                f"declared before it (use '{ROOT}' or an OU listed earlier)."
            )
        seen.append(ou.name)
    names: set[str] = set()
    emails: set[str] = set()
    for account in spec.accounts:
        try:
            validate_account(account, seen)
        except ValidationError as error:
            raise SpecificationError(f"{source}: {error}") from None
        if account.name in names:
            raise SpecificationError(f"{source}: the account '{account.name}' is declared twice.")
        if account.email.lower() in emails:
            raise SpecificationError(f"{source}: the email '{account.email}' is used twice.")
        names.add(account.name)
        emails.add(account.email.lower())
    return spec
