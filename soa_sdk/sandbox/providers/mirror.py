"""The sandbox's provider mirror and Terraform CLI configuration, written under its home.

``<home>/terraform/plugins`` is a filesystem mirror in Terraform's unpacked layout
(``registry.terraform.io/hashicorp/aws/<version>/linux_amd64/terraform-provider-aws_v<version>``,
an executable that starts the local provider with this Python), and ``<home>/terraform/terraformrc``
points ``provider_installation`` at it and nowhere else: ``terraform init`` needs no network,
and the version (5.99.0) satisfies the monorepo's ``~> 5.82``.
"""

from __future__ import annotations

import platform
import shlex
import sys
from pathlib import Path

from soa_sdk.sandbox.providers.local import PROVIDERS


def _platform() -> str:
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), platform.machine()
    )
    return f"{sys.platform.replace('darwin', 'darwin')}_{machine}"


def terraform_home(home: Path) -> Path:
    return home / "terraform"


def write_mirror(home: Path) -> Path:
    """Write the mirror and the CLI configuration; return the configuration's path."""
    root = terraform_home(home)
    plugins = root / "plugins"
    for provider in PROVIDERS.values():
        folder = plugins / provider.address / provider.version / _platform()
        folder.mkdir(parents=True, exist_ok=True)
        executable = folder / f"terraform-provider-{provider.type_name}_v{provider.version}"
        script = (
            f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m soa_sdk.sandbox.providers "
            f'launch {provider.type_name} "$@"\n'
        )
        if not executable.exists() or executable.read_text() != script:
            executable.write_text(script)
            executable.chmod(0o755)
    includes = ", ".join(f'"{p.address}"' for p in PROVIDERS.values())
    config = root / "terraformrc"
    config.write_text(
        "# Written by soa-lab: the sandbox's local providers, installed from this mirror only.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{plugins}"\n'
        f"    include = [{includes}]\n"
        "  }\n"
        "}\n"
        "disable_checkpoint = true\n"
    )
    return config
