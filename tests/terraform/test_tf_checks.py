"""The offline checks pass on the project's terraform/ tree, and catch what they claim to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from soa_sdk import tools
from soa_sdk.tf import checks


def test_every_file_parses(terraform_dir: Path) -> None:
    result = checks.check_parse(terraform_dir)
    assert result.ok, "\n".join(map(str, result.findings))
    assert result.details["tf_files"] >= 40
    assert result.details["json_files"] >= 5  # the organization, runtime and access specs


def test_terraform_fmt_is_clean(terraform_dir: Path) -> None:
    result = checks.check_fmt(terraform_dir)
    assert result.ok, "\n".join(map(str, result.findings))


def test_conventions_hold(terraform_dir: Path) -> None:
    result = checks.check_conventions(terraform_dir)
    assert result.ok, "\n".join(map(str, result.findings))
    modules = [p for p in (terraform_dir / "modules").iterdir() if p.is_dir()]
    assert len(modules) >= 6
    assert result.details["folders"] >= len(modules) + 8  # modules plus the account roots


def test_checkov_finds_nothing_unexplained(terraform_dir: Path, checkov_path: Path) -> None:
    result = checks.check_checkov(terraform_dir)  # how long: benchmarks/terraform_checks.py
    assert result.ok, "\n".join(map(str, result.findings))
    assert result.details["passed"] > 300
    assert result.details["failed"] == 0


# --- the checks catch problems -------------------------------------------------------------


def test_parse_reports_a_broken_file(tree_copy: Path) -> None:
    broken = tree_copy / "modules" / "network" / "main.tf"
    broken.write_text(broken.read_text() + '\nresource "aws_vpc" "broken" {\n')
    findings = checks.check_parse(tree_copy).findings
    assert [f.path for f in findings] == ["modules/network/main.tf"]


def test_fmt_reports_an_unformatted_file(tree_copy: Path) -> None:
    path = tree_copy / "modules" / "lab_spec" / "variables.tf"
    path.write_text(path.read_text().replace("  type        = string", "  type=string"))
    findings = checks.check_fmt(tree_copy).findings
    assert [f.path for f in findings] == ["modules/lab_spec/variables.tf"]


def test_conventions_report_each_broken_rule(tree_copy: Path) -> None:
    module = tree_copy / "modules" / "static_site"
    (module / "outputs.tf").unlink()
    variables = module / "variables.tf"
    variables.write_text(
        variables.read_text()
        + '\nvariable "undocumented" {\n  type = string\n}\n\nvariable "untyped" {\n'
        '  description = "no type"\n}\n'
    )
    versions = module / "versions.tf"
    versions.write_text(versions.read_text().replace('"~> 5.82"', '">= 5.0"'))
    (module / "providers.tf").write_text('provider "aws" {\n  region = "us-east-1"\n}\n')
    root_providers = tree_copy / "runtime_frontend" / "providers.tf"
    root_providers.write_text(root_providers.read_text().replace("allowed_account_ids", "#"))

    messages = [f"{f.path}: {f.message}" for f in checks.check_conventions(tree_copy).findings]
    expected = [
        "module lacks outputs.tf",
        'variable "undocumented" has no description',
        'variable "untyped" has no type',
        'provider "aws" version is not pinned',
        'module configures provider "aws"',
        "does not set allowed_account_ids",
    ]
    for fragment in expected:
        assert any(fragment in m for m in messages), f"no finding says {fragment!r}: {messages}"


def test_conventions_report_an_undeclared_provider(tree_copy: Path) -> None:
    main = tree_copy / "shared_services" / "consul" / "main.tf"
    main.write_text(main.read_text() + '\nresource "vault_policy" "stray" {\n  name = "x"\n}\n')
    findings = checks.check_conventions(tree_copy).findings
    assert any('"vault"' in f.message and "required_providers" in f.message for f in findings)


def test_checkov_reports_a_failed_check_and_an_unexplained_skip(
    tmp_path: Path, checkov_path: Path
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "main.tf").write_text(
        'resource "aws_security_group" "open" {\n'
        '  description = "ssh from anywhere"\n'
        "  ingress {\n"
        '    description = "ssh"\n'
        "    from_port   = 22\n"
        "    to_port     = 22\n"
        '    protocol    = "tcp"\n'
        '    cidr_blocks = ["0.0.0.0/0"]\n'
        "  }\n"
        "}\n\n"
        'resource "aws_ebs_volume" "plain" {\n'
        "  #checkov:skip=CKV_AWS_3\n"
        '  availability_zone = "us-east-1a"\n'
        "  size              = 10\n"
        "}\n"
    )
    result = checks.check_checkov(folder)
    messages = [f"{f.path} {f.message}" for f in result.findings]
    assert any("CKV_AWS_24" in m and "aws_security_group.open" in m for m in messages), messages
    assert any("CKV_AWS_3 skipped without a reason" in m for m in messages), messages


def test_a_wrong_checkov_override_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SOA_LAB_CHECKOV", str(tmp_path / "no-such-checkov"))
    assert tools.find(tools.CHECKOV) is None
    with pytest.raises(tools.ToolUnavailable, match=r"SOA_LAB_CHECKOV names .*no-such-checkov"):
        checks.check_checkov(tmp_path)


def test_checkov_runs_from_the_labs_own_environment(checkov_path: Path) -> None:
    assert checkov_path == tools.CHECKOV.executable
    assert checkov_path.is_relative_to(tools.tools_root())
    version = subprocess.run(
        [str(checkov_path), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version == tools.CHECKOV.version


def test_an_unreachable_index_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A machine that cannot reach PyPI: the lab says what to do instead of a pip traceback."""
    monkeypatch.setenv("SOA_LAB_TOOLS", str(tmp_path / "tools"))
    monkeypatch.delenv("SOA_LAB_CHECKOV", raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_NO_INDEX", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(tools.ToolUnavailable, match=r"soa-lab tools"):
        tools.ensure(tools.CHECKOV)
    assert tools.find(tools.CHECKOV) is None, "a half-made environment must not count as ready"


def test_command_line_summary(terraform_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert checks.main([str(terraform_dir), "--no-checkov"]) == 0
    out = capsys.readouterr().out
    assert "parse: ok" in out and "fmt: ok" in out and "conventions: ok" in out
    assert "checkov" not in out


def test_doctor_says_where_checkov_is_or_will_be(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from soa_sdk.sandbox import doctor

    monkeypatch.setenv("SOA_LAB_TOOLS", str(tmp_path))
    monkeypatch.delenv("SOA_LAB_CHECKOV", raising=False)
    finding = doctor._checkov()
    assert finding.ok and "not installed yet" in finding.what and str(tmp_path) in finding.what
    monkeypatch.setenv("SOA_LAB_CHECKOV", str(tmp_path / "missing"))
    finding = doctor._checkov()
    assert not finding.ok and "not an executable" in finding.fix
