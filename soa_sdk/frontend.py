"""The frontend runtime: the store's web site, as ``terraform/runtime_frontend`` declares it.

The talk's fifth runtime is not a compute runtime: it is the store's static site (``site/``:
the shop, and a panel showing which version of each service answered each request and the
call chain) in a private S3 bucket of the ``frontend`` account, behind a CloudFront
distribution (module ``terraform/modules/static_site``) whose default root object is
``index.html``, whose ``/api/*`` cache behaviour forwards to the store runtime's ingress, and
whose response-headers policy adds the security headers. It depends on the store's ingress,
so it is created after the store's runtime (step 1). Reached as ``lab.frontend``.

:meth:`Frontend.create` does, through the ``frontend`` account's own session from step 0,
what Terraform and the site's CI do: the bucket (public access blocked, versioned,
encrypted), the site's objects, an origin access control and the distribution; it adopts what
exists, so it is safe to run again (the objects are uploaded again, as CI does). On the
sandbox it then has the sandbox's CloudFront edge serve the distribution on a local URL
(:mod:`soa_sdk.sandbox.frontend` says what of CloudFront that stand-in does not do). The
distribution's configuration is not written twice: it is read from the module's
``aws_cloudfront_distribution`` (origins, default and ``/api/*`` behaviours, the managed
policies its data sources name) with the module's ``api_origin`` variable set from the store's
ingress URL (:func:`api_origin_value`).

What it leaves out of the module, and why: the KMS key (the bucket uses SSE-S3 here), the WAF
web ACL and its log group (moto serves WAFv2, but nothing would evaluate it), the bucket
policy (it names the ``cloudfront.amazonaws.com`` principal and denies plain HTTP, and the
sandbox serves only plain HTTP), and the response-headers policy (moto 5.2 has no API for it:
on the sandbox its configuration, read from the module, goes to the edge).
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
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

REGION = "us-east-1"
"""CloudFront and what it uses are homed in us-east-1 (the module's provider is pinned there)."""

#: AWS managed cache and origin request policies by name, as the module's data sources name
#: them (``aws_cloudfront_cache_policy``, ``aws_cloudfront_origin_request_policy``): their ids
#: are the same in every account, and moto 5.2 has no API to look them up.
MANAGED_POLICIES = {
    "Managed-CachingDisabled": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
    "Managed-CachingOptimized": "658327ea-f89d-4fab-a63d-7e88639e58f6",
    "Managed-AllViewerExceptHostHeader": "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    "Managed-AllViewer": "216adef6-5c7f-47e4-b989-5492eafa07d3",
}

MODULE = ("modules", "static_site", "main.tf")
"""The module that declares the distribution; :func:`_distribution_config` reads it."""


@dataclass(frozen=True)
class FrontendSpec:
    """``terraform/runtime_frontend/frontend.auto.tfvars.json``."""

    name: str
    account: str
    site: str
    price_class: str


@dataclass
class FrontendReport:
    """What the frontend consists of, as created or found."""

    name: str
    account: str
    account_id: str
    bucket: str
    objects: list[str]
    distribution_id: str
    domain_name: str
    api_origin: str
    url: str

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
    ``frontend`` account's session), step 1's ``Runtimes`` (the store's ingress) and, on the
    sandbox only, the sandbox's controls (its CloudFront edge)."""

    def __init__(
        self,
        org: Organization,
        runtime: Runtimes,
        sandbox: SandboxControls | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.org = org
        self.runtime = runtime
        self.sandbox = sandbox
        self.progress = progress or (lambda message: None)

    # -- specification -----------------------------------------------------------------------
    @staticmethod
    def spec() -> FrontendSpec:
        path = terraform_root() / "runtime_frontend" / "frontend.auto.tfvars.json"
        return FrontendSpec(**json.loads(path.read_text())["frontend"])

    @staticmethod
    def site_files() -> dict[str, Path]:
        """The site's files (``site/`` of the project), by object key."""
        root = project_root() / "site"
        return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}

    @staticmethod
    def response_headers_policy() -> dict[str, Any]:
        """The module's ``aws_cloudfront_response_headers_policy`` as CloudFront's API spells
        a ``ResponseHeadersPolicyConfig`` (its ``SecurityHeadersConfig``)."""
        config = _declared("resource", "aws_cloudfront_response_headers_policy")
        return {"SecurityHeadersConfig": _api_shape(config["security_headers_config"])}

    # -- create ------------------------------------------------------------------------------
    def create(self, runtime: str = "runtime-ecs") -> FrontendReport:
        """Build the frontend in front of ``runtime``'s ingress (create that runtime first,
        step 1); safe to run again."""
        spec = self.spec()
        ingress = self.runtime.ingress_url(runtime)
        account = self._account(spec)
        session = self.org.session(spec.account).session
        s3 = session.client("s3", region_name=REGION)
        cloudfront = session.client("cloudfront", region_name=REGION)
        bucket = f"{spec.site}-site-{account.id}"
        try:
            objects = self._bucket(s3, bucket)
            self.progress(f"bucket {bucket}: {len(objects)} objects uploaded")
            distribution = self._distribution(cloudfront, spec, bucket, ingress)
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, f"create the frontend {spec.name}") from None
        url = f"https://{distribution['DomainName']}/"
        if self.sandbox is not None:
            url = self.sandbox.deploy_distribution(
                account.id, distribution["Id"], self.response_headers_policy()
            )
        self.progress(f"{spec.name} serves the store at {url}")
        return FrontendReport(
            spec.name,
            spec.account,
            account.id,
            bucket,
            objects,
            distribution["Id"],
            distribution["DomainName"],
            ingress,
            url,
        )

    def _bucket(self, s3: Any, bucket: str) -> list[str]:
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        for key, path in self.site_files().items():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=kind)
        return list(self.site_files())

    def _distribution(
        self, cloudfront: Any, spec: FrontendSpec, bucket: str, ingress: str
    ) -> dict[str, Any]:
        found = self._find(cloudfront, spec)
        access = self._origin_access_control(cloudfront, spec)
        wanted = _distribution_config(spec, bucket, ingress, access)
        if found is None:
            created = cloudfront.create_distribution(DistributionConfig=wanted)["Distribution"]
            self.progress(f"distribution {created['Id']} created")
            return dict(created)
        reply = cloudfront.get_distribution_config(Id=found["Id"])
        current = reply["DistributionConfig"]
        if _api_origin(current) != _api_origin(wanted):
            wanted["CallerReference"] = current["CallerReference"]
            cloudfront.update_distribution(
                Id=found["Id"], IfMatch=reply["ETag"], DistributionConfig=wanted
            )
            self.progress(f"distribution {found['Id']}: /api/* now goes to {ingress}")
        return dict(found)

    @staticmethod
    def _find(cloudfront: Any, spec: FrontendSpec) -> dict[str, Any] | None:
        listing = cloudfront.list_distributions().get("DistributionList", {})
        for item in listing.get("Items", []) or []:
            if item.get("Comment") == spec.site:
                return dict(item)
        return None

    @staticmethod
    def _origin_access_control(cloudfront: Any, spec: FrontendSpec) -> str:
        listing = cloudfront.list_origin_access_controls().get("OriginAccessControlList", {})
        for item in listing.get("Items", []) or []:
            if item.get("Name") == spec.site:
                return str(item["Id"])
        created = cloudfront.create_origin_access_control(
            OriginAccessControlConfig={
                "Name": spec.site,
                "Description": f"CloudFront signs its requests to the {spec.site} bucket",
                "SigningProtocol": "sigv4",
                "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3",
            }
        )
        return str(created["OriginAccessControl"]["Id"])

    # -- read --------------------------------------------------------------------------------
    def url(self) -> str:
        """Where the store's page is served (the sandbox's edge, or ``https://<domain>/``)."""
        spec = self.spec()
        self._account(spec)
        cloudfront = self.org.session(spec.account).session.client("cloudfront", region_name=REGION)
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

    # -- helpers -----------------------------------------------------------------------------
    def _account(self, spec: FrontendSpec) -> Any:
        for account in self.org.accounts():
            if account.name == spec.account:
                return account
        raise NotFound(
            f"The frontend belongs in the account '{spec.account}', which does not exist: run "
            "step 0 first."
        )


def _blocks(kind: str, type_: str) -> list[tuple[str, dict[str, Any]]]:
    """The module's ``kind`` (resource or data) blocks of ``type_`` as (name, body), as
    python-hcl2 reads them."""
    import hcl2  # python-hcl2

    with terraform_root().joinpath(*MODULE).open() as handle:
        document = hcl2.load(handle)
    return [
        (name.strip('"'), dict(body))
        for entry in document.get(kind, [])
        for found, named in entry.items()
        if found.strip('"') == type_
        for name, body in named.items()
    ]


def _declared(kind: str, type_: str) -> dict[str, Any]:
    """The body of the module's only ``kind`` block of ``type_``."""
    found = _blocks(kind, type_)
    if not found:
        raise NotFound(f"{'/'.join(MODULE)} declares no {kind} {type_}.")
    return found[0][1]


def api_origin_value(ingress: str) -> dict[str, Any]:
    """The module's ``api_origin`` variable for the store's ingress URL (``http://host:port``
    on the sandbox, so ``http-only``; https on AWS)."""
    parts = urlsplit(ingress)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    return {
        "domain_name": parts.hostname or "",
        "protocol": "https-only" if secure else "http-only",
        "http_port": 80 if secure else port,
        "https_port": port if secure else 443,
    }


def _distribution_config(
    spec: FrontendSpec, bucket: str, ingress: str, access_control: str
) -> dict[str, Any]:
    """The distribution ``terraform/modules/static_site`` declares, in CloudFront's API shape:
    its origins (the bucket and ``api_origin``), default and ordered cache behaviours (managed
    policies by the names its data sources give), root object, price class and HTTP versions.
    Left out, as the module docstring says: the WAF web ACL, the response-headers policy id (the
    sandbox's edge gets the policy itself) and the tags."""
    declared = _declared("resource", "aws_cloudfront_distribution")
    references: dict[str, Any] = {
        "var.name": spec.site,
        "var.price_class": spec.price_class,
        "aws_s3_bucket.this.bucket_regional_domain_name": f"{bucket}.s3.{REGION}.amazonaws.com",
        "aws_cloudfront_origin_access_control.this.id": access_control,
        **{f"var.api_origin.{k}": v for k, v in api_origin_value(ingress).items()},
    }
    for kind in ("aws_cloudfront_cache_policy", "aws_cloudfront_origin_request_policy"):
        for name, body in _blocks("data", kind):
            policy = _unquote(body["name"])
            if policy not in MANAGED_POLICIES:
                raise NotFound(f"{policy} is not an AWS managed policy the SDK knows.")
            references[f"data.{kind}.{name}.id"] = MANAGED_POLICIES[policy]

    def value(raw: Any) -> Any:
        if isinstance(raw, list):
            return [value(item) for item in raw]
        if isinstance(raw, str) and raw.startswith("${") and raw.endswith("}"):
            reference = raw[2:-1]
            if reference not in references:
                raise NotFound(f"The SDK cannot resolve {reference} of {'/'.join(MODULE)}.")
            return references[reference]
        return _unquote(raw)

    def block(raw: Any) -> dict[str, Any]:
        return dict(raw[0] if isinstance(raw, list) else raw)

    def listing(items: list[Any]) -> dict[str, Any]:
        return {"Quantity": len(items), "Items": items}

    def origin(raw: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "Id": value(raw["origin_id"]),
            "DomainName": value(raw["domain_name"]),
        }
        if "custom_origin_config" in raw:
            custom = block(raw["custom_origin_config"])
            item["CustomOriginConfig"] = {
                "HTTPPort": int(value(custom["http_port"])),
                "HTTPSPort": int(value(custom["https_port"])),
                "OriginProtocolPolicy": value(custom["origin_protocol_policy"]),
                "OriginSslProtocols": listing(value(custom["origin_ssl_protocols"])),
            }
        else:
            item["OriginAccessControlId"] = value(raw["origin_access_control_id"])
            item["S3OriginConfig"] = {"OriginAccessIdentity": ""}
        return item

    def behaviour(raw: dict[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if "path_pattern" in raw:
            item["PathPattern"] = value(raw["path_pattern"])
        item |= {
            "TargetOriginId": value(raw["target_origin_id"]),
            "ViewerProtocolPolicy": value(raw["viewer_protocol_policy"]),
            "AllowedMethods": {
                **listing(value(raw["allowed_methods"])),
                "CachedMethods": listing(value(raw["cached_methods"])),
            },
            "Compress": bool(value(raw.get("compress", False))),
            "CachePolicyId": value(raw["cache_policy_id"]),
        }
        if "origin_request_policy_id" in raw:
            item["OriginRequestPolicyId"] = value(raw["origin_request_policy_id"])
        return item

    geo = block(block(declared["restrictions"])["geo_restriction"])
    return {
        "CallerReference": f"soa-lab-{spec.site}",
        "Comment": value(declared["comment"]),
        "Enabled": bool(value(declared["enabled"])),
        "DefaultRootObject": value(declared["default_root_object"]),
        "PriceClass": value(declared["price_class"]),
        "HttpVersion": value(declared["http_version"]),
        "IsIPV6Enabled": bool(value(declared["is_ipv6_enabled"])),
        "Origins": listing([origin(o) for o in declared["origin"]]),
        "DefaultCacheBehavior": behaviour(block(declared["default_cache_behavior"])),
        "CacheBehaviors": listing(
            [behaviour(b) for b in declared.get("ordered_cache_behavior", [])]
        ),
        "Restrictions": {
            "GeoRestriction": {"RestrictionType": value(geo["restriction_type"]), "Quantity": 0}
        },
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
    }


def _unquote(raw: Any) -> Any:
    if isinstance(raw, str) and len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    return raw


def _api_origin(config: dict[str, Any]) -> tuple[str, int] | None:
    for origin in config["Origins"]["Items"]:
        if origin["Id"] == "api":
            custom = origin.get("CustomOriginConfig") or {}
            return origin["DomainName"], int(custom.get("HTTPPort") or 0)
    return None


def _api_shape(block: Any) -> Any:
    """A python-hcl2 block (snake_case keys, quoted strings, one-item lists for blocks) in
    CloudFront's API shape (PascalCase keys)."""
    if isinstance(block, list) and len(block) == 1 and isinstance(block[0], dict):
        return _api_shape(block[0])
    if isinstance(block, dict):
        return {
            _pascal(key): _api_shape(value)
            for key, value in block.items()
            if not key.startswith("__")
        }
    if isinstance(block, str) and len(block) >= 2 and block[0] == block[-1] == '"':
        return block[1:-1]
    return block


def _pascal(name: str) -> str:
    return "".join("XSS" if w == "xss" else w.capitalize() for w in re.split(r"_", name))


__all__ = ["Frontend", "FrontendReport", "FrontendSpec", "Link", "api_origin_value"]
