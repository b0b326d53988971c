"""The frontend runtime: the store's web site, as ``terraform/runtime_frontend`` declares it.

The talk's fifth runtime is not a compute runtime: it is the store's static site (``site/``:
the shop, and a panel showing which version of each service answered each request and the
call chain) in a private S3 bucket of the ``frontend`` account, behind a CloudFront
distribution (module ``terraform/modules/static_site``: the bucket with its KMS key and
policy, the WAF web ACL and its logs, an origin access control, a response-headers policy
with the security headers, and the distribution, whose ``/api/*`` cache behaviour goes to the
store runtime's ingress). It depends on the store's ingress, so it is created after the
store's runtime (step 1). Reached as ``lab.frontend``.

:meth:`Frontend.create` is ``terraform apply`` of ``runtime_frontend`` into the ``frontend``
account, with the folder's ``api_origin`` set to the store runtime's API (the ingress
gateway's TLS listener, :meth:`soa_sdk.runtime.Runtimes.api_origin`), then what the site's CI
does: upload ``site/`` to the bucket. On the sandbox it then has the sandbox's CloudFront edge
serve the distribution on a local URL (:mod:`soa_sdk.sandbox.frontend` says what of
CloudFront that stand-in does not do). Safe to run again: the plan has no changes, and the
objects are uploaded again, as CI does. :meth:`Frontend.destroy` empties the bucket (every
version: Terraform does not destroy a bucket that holds objects) and runs ``terraform
destroy``. What the SDK leaves out: CloudFront invalidations after an upload (the sandbox's
edge does not cache).
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from soa_sdk.awsclient import translate_client_error
from soa_sdk.errors import NotFound, SoaLabError
from soa_sdk.paths import project_root, terraform_root
from soa_sdk.tables import Table

if TYPE_CHECKING:
    from soa_sdk.org import Organization
    from soa_sdk.runtime import Runtimes
    from soa_sdk.sandbox.controls import SandboxControls
    from soa_sdk.tf.result import PlanSummary
    from soa_sdk.tf.workspace import LabTerraform

REGION = "us-east-1"
"""CloudFront and what it uses are homed in us-east-1 (the folder's provider is pinned there)."""

FOLDER = "runtime_frontend"


@dataclass(frozen=True)
class FrontendSpec:
    """``terraform/runtime_frontend/frontend.auto.tfvars.json``."""

    name: str
    account: str
    site: str
    price_class: str


@dataclass
class FrontendReport:
    """What the frontend consists of, as applied or found."""

    name: str
    account: str
    account_id: str
    bucket: str
    objects: list[str]
    distribution_id: str
    domain_name: str
    api_origin: str
    url: str
    terraform: PlanSummary | None = None
    """What ``terraform apply`` of ``runtime_frontend`` did in this call."""

    def table(self) -> Table:
        where = f"AWS {self.account}"
        rows = [
            {"where": where, "kind": "s3 bucket", "id": self.bucket},
            *({"where": where, "kind": "s3 object", "id": key} for key in self.objects),
            {"where": where, "kind": "cloudfront distribution", "id": self.distribution_id},
            {"where": where, "kind": "/api/* origin", "id": self.api_origin},
            {"where": "viewer", "kind": "url", "id": self.url},
        ]
        return Table(rows, title=f"Frontend {self.name} (account {self.account_id})")

    def link(self) -> Link:
        return Link(self.url, "Open the store")


class Link:
    """A link that a notebook shows as a link, and a terminal as its URL.

    In a notebook served by JupyterHub (Binder's too) the attendee's browser is not on the
    machine that runs the sandbox, so a loopback URL would not open: the notebook's link then
    goes through the Jupyter server's own ``/proxy/<port>/`` (jupyter-server-proxy, installed
    with the lab), under the user's prefix (``JUPYTERHUB_SERVICE_PREFIX``). :attr:`url`
    stays the URL on the sandbox's machine, for scripts and tests.
    """

    def __init__(self, url: str, text: str) -> None:
        self.url = url
        self.text = text

    @property
    def viewer_url(self) -> str:
        """Where the attendee's browser opens it (see the class docstring)."""
        return through_jupyter_proxy(self.url, os.environ.get(HUB_PREFIX_ENV))

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"{self.text}: {self.viewer_url}"

    def _repr_html_(self) -> str:
        url = escape(self.viewer_url, quote=True)
        return f'<a href="{url}" target="_blank" rel="noopener">{escape(self.text)}</a>: {url}'

    def _repr_markdown_(self) -> str:
        return f"[{self.text}]({self.viewer_url})"


HUB_PREFIX_ENV = "JUPYTERHUB_SERVICE_PREFIX"
"""Set by JupyterHub (and so by Binder) for a single-user server: its URL prefix."""

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def through_jupyter_proxy(url: str, hub_prefix: str | None) -> str:
    """``url`` as a browser elsewhere reaches it through jupyter-server-proxy: a loopback
    ``http://127.0.0.1:<port>/path`` becomes ``<prefix>proxy/<port>/path`` when the notebook
    is served under a hub prefix; any other URL, or no prefix, is returned unchanged."""
    parts = urlsplit(url)
    if not hub_prefix or parts.hostname not in _LOOPBACK or parts.port is None:
        return url
    prefix = hub_prefix if hub_prefix.endswith("/") else hub_prefix + "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{prefix}proxy/{parts.port}{parts.path or '/'}{query}"


class Frontend:
    """Create, find and destroy the frontend runtime. It uses step 0's ``Organization`` (the
    ``frontend`` account's session), step 1's ``Runtimes`` (the store's API origin), the lab's
    Terraform and, on the sandbox only, the sandbox's controls (its CloudFront edge)."""

    def __init__(
        self,
        org: Organization,
        runtime: Runtimes,
        terraform: LabTerraform,
        sandbox: SandboxControls | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.org = org
        self.runtime = runtime
        self.terraform = terraform
        self.sandbox = sandbox
        self.progress = progress or (lambda message: None)

    # -- specification -----------------------------------------------------------------------
    @staticmethod
    def spec() -> FrontendSpec:
        path = terraform_root() / FOLDER / "frontend.auto.tfvars.json"
        return FrontendSpec(**json.loads(path.read_text())["frontend"])

    @staticmethod
    def site_files() -> dict[str, Path]:
        """The site's files (``site/`` of the project), by object key."""
        root = project_root() / "site"
        return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}

    # -- create ------------------------------------------------------------------------------
    def create(self, runtime: str = "runtime-ecs") -> FrontendReport:
        """``terraform apply`` of ``runtime_frontend`` in front of ``runtime``'s API (create
        that runtime first, step 1), then the site uploaded; safe to run again."""
        spec = self.spec()
        account = self._account(spec)
        origin = self.runtime.api_origin(runtime)
        variables = {"account_id": account.id, "api_origin": origin}
        summary = self.terraform.apply(FOLDER, variables)
        self.progress(f"terraform/{FOLDER}: {summary.counts()}")
        cloudfront, s3 = self._clients(spec)
        try:
            distribution = self._find(cloudfront, spec)
            if distribution is None:
                raise NotFound(f"terraform/{FOLDER} applied, but no distribution '{spec.site}'.")
            bucket = _bucket_of(cloudfront.get_distribution_config(Id=distribution["Id"]))
            objects = self._upload(s3, bucket)
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, f"create the frontend {spec.name}") from None
        self.progress(f"bucket {bucket}: {len(objects)} objects uploaded")
        url = f"https://{distribution['DomainName']}/"
        if self.sandbox is not None:
            url = self.sandbox.deploy_distribution(account.id, distribution["Id"])
        self.progress(f"{spec.name} serves the store at {url}")
        return FrontendReport(
            spec.name,
            spec.account,
            account.id,
            bucket,
            objects,
            distribution["Id"],
            distribution["DomainName"],
            f"https://{origin['domain_name']}:{origin['https_port']}",
            url,
            summary,
        )

    def _upload(self, s3: Any, bucket: str) -> list[str]:
        """What the site's CI does after Terraform: ``PutObject`` of each file of ``site/``."""
        for key, path in self.site_files().items():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=kind)
        return list(self.site_files())

    # -- destroy -----------------------------------------------------------------------------
    def destroy(self) -> PlanSummary:
        """The frontend gone: the sandbox's edge stops serving it, the bucket is emptied
        (every object version and delete marker), then ``terraform destroy`` of the folder."""
        spec = self.spec()
        account = self._account(spec)
        cloudfront, s3 = self._clients(spec)
        try:
            distribution = self._find(cloudfront, spec)
            if distribution is not None:
                config = cloudfront.get_distribution_config(Id=distribution["Id"])
                _empty(s3, _bucket_of(config))
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, f"empty the bucket of {spec.name}") from None
        if self.sandbox is not None:
            self.sandbox.forget_distribution()
        # Destroy plans from the state; the API origin is only needed to satisfy the folder's
        # variable (the store's runtime may be gone already).
        origin = {"domain_name": "api.invalid", "protocol": "https-only"}
        summary = self.terraform.destroy(FOLDER, {"account_id": account.id, "api_origin": origin})
        self.progress(f"terraform/{FOLDER}: {summary.counts()}")
        return summary

    # -- read --------------------------------------------------------------------------------
    def url(self) -> str:
        """Where the store's page is served (the sandbox's edge, or ``https://<domain>/``)."""
        spec = self.spec()
        self._account(spec)
        cloudfront, _ = self._clients(spec)
        found = self._find(cloudfront, spec)
        if found is None:
            raise NotFound(
                "The store's frontend does not exist yet: run step 1 (lab.frontend.create())."
            )
        if self.sandbox is not None:
            return self.sandbox.frontend_url()
        return f"https://{found['DomainName']}/"

    def link(self) -> Link:
        """A link to the store's page, for a notebook."""
        return Link(self.url(), "Open the store")

    def require(self, runtime: str = "runtime-ecs") -> Link:
        """The link to the store's page for a later step: read back through the API when the
        frontend exists, else :meth:`create` (which applies ``terraform/runtime_frontend``)."""
        try:
            return self.link()
        except NotFound:
            return self.create(runtime).link()

    # -- helpers -----------------------------------------------------------------------------
    def _clients(self, spec: FrontendSpec) -> tuple[Any, Any]:
        session = self.org.session(spec.account).session
        return session.client("cloudfront", region_name=REGION), session.client(
            "s3", region_name=REGION
        )

    @staticmethod
    def _find(cloudfront: Any, spec: FrontendSpec) -> dict[str, Any] | None:
        """The distribution the module made (its ``comment`` is the site's name)."""
        listing = cloudfront.list_distributions().get("DistributionList", {})
        for item in listing.get("Items", []) or []:
            if item.get("Comment") == spec.site:
                return dict(item)
        return None

    def _account(self, spec: FrontendSpec) -> Any:
        for account in self.org.accounts():
            if account.name == spec.account:
                return account
        raise NotFound(
            f"The frontend belongs in the account '{spec.account}', which does not exist: run "
            "step 0 first."
        )


def _bucket_of(config: dict[str, Any]) -> str:
    """The bucket of the distribution's S3 origin (``<bucket>.s3.<region>.amazonaws.com``)."""
    for origin in config["DistributionConfig"]["Origins"]["Items"]:
        if "S3OriginConfig" in origin or ".s3." in origin["DomainName"]:
            return str(origin["DomainName"]).split(".s3.")[0]
    raise NotFound("The frontend's distribution has no S3 origin.")


def _empty(s3: Any, bucket: str) -> None:
    """Delete every object version and delete marker of ``bucket`` (if it still exists)."""
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        return
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})


__all__ = ["Frontend", "FrontendReport", "FrontendSpec", "Link"]
