"""The organization specification: parsed from the file Terraform reads, validated first."""

from __future__ import annotations

import json

import hcl2
import pytest

from soa_sdk import org_spec as spec
from soa_sdk.errors import SpecificationError, ValidationError
from soa_sdk.paths import terraform_root


def document(**changes):
    base = json.loads(spec.default_path().read_text())
    base["organization"].update(changes)
    return base


def test_the_project_specification_declares_the_talks_accounts():
    organization = spec.load()
    assert [a.name for a in organization.accounts] == [
        "shared-services",
        "runtime-ec2",
        "runtime-ecs",
        "runtime-eks",
        "frontend",
    ]
    assert {a.ou for a in organization.accounts} <= set(organization.ou_names())


def test_terraform_declares_the_variable_the_specification_fills():
    variables = {}
    for path in (terraform_root() / "org").glob("*.tf"):
        with path.open() as handle:
            for block in hcl2.load(handle).get("variable", []):
                # python-hcl2 8 keeps the quotes of block labels.
                variables.update({name.strip('"'): body for name, body in block.items()})
    assert "organization" in variables, "terraform/org must declare var.organization"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"accounts": [{"name": "Bad_Name", "email": "a@b.example", "ou": "shared"}]},
            "not a valid account name",
        ),
        (
            {"accounts": [{"name": "team-a", "email": "not-an-email", "ou": "shared"}]},
            "not a valid email",
        ),
        (
            {"accounts": [{"name": "team-a", "email": "a@b.example", "ou": "nowhere"}]},
            "names the OU 'nowhere', which does not exist",
        ),
        ({"accounts": [{"name": "team-a", "email": "a@b.example"}]}, "needs 'name', 'email'"),
        (
            {"organizational_units": [{"name": "x", "parent": "y"}], "accounts": []},
            "not declared before it",
        ),
        (
            {
                "accounts": [
                    {"name": "team-a", "email": "a@b.example", "ou": "shared"},
                    {"name": "team-a", "email": "c@b.example", "ou": "shared"},
                ]
            },
            "declared twice",
        ),
    ],
)
def test_malformed_specifications_are_refused_with_one_clear_sentence(changes, message):
    with pytest.raises(SpecificationError, match=message):
        spec.parse(document(**changes))


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "organization.auto.tfvars.json"
    path.write_text("{ not json")
    with pytest.raises(SpecificationError, match="not valid JSON"):
        spec.load(path)


def test_an_unknown_account_name_is_a_validation_error():
    with pytest.raises(ValidationError, match="no account named 'nope'"):
        spec.load().account("nope")
