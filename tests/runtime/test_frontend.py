"""Step 1's frontend runtime through Terraform (``lab.frontend``): ``create`` applies
``terraform/runtime_frontend`` into the ``frontend`` account with its ``api_origin`` set to the
store runtime's ingress gateway's TLS listener, uploads the site, and the sandbox's CloudFront
edge serves it: the page from S3 with the policy's security headers, ``/api/*`` over TLS to the
ingress (the edge verifies the gateway's Connect leaf names the origin). ``destroy`` leaves
nothing, and ``require`` (what a later step calls) brings it all back."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest
import requests

from soa_sdk.frontend import FOLDER, REGION

RUNTIME = "runtime-ecs"
MODULE = "module.site"
DECLARED = {
    f"{MODULE}.aws_cloudfront_distribution.this",
    f"{MODULE}.aws_cloudfront_response_headers_policy.this",
    f"{MODULE}.aws_s3_bucket_policy.this",
    f"{MODULE}.aws_kms_key.this",
    f"{MODULE}.aws_wafv2_web_acl.this",
}


@pytest.fixture(scope="module")
def site(lab: Any) -> Any:
    lab.org.require()
    lab.runtime.require(RUNTIME)
    return lab.frontend.create(RUNTIME)


def _client(lab: Any, service: str) -> Any:
    account = lab.frontend.spec().account
    return lab.org.session(account).session.client(service, region_name=REGION)


def _api_origin(lab: Any) -> dict[str, Any]:
    cloudfront = _client(lab, "cloudfront")
    (found,) = [
        d
        for d in cloudfront.list_distributions()["DistributionList"]["Items"]
        if d["Comment"] == lab.frontend.spec().site
    ]
    config = cloudfront.get_distribution_config(Id=found["Id"])["DistributionConfig"]
    return next(o for o in config["Origins"]["Items"] if o["Id"] == "api")


def test_create_is_terraforms_and_the_edge_serves_page_and_api(lab: Any, site: Any) -> None:
    assert set(lab.tf.runner(FOLDER).state_list()) >= DECLARED

    page = requests.get(site.url, timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    # The response-headers policy Terraform made, read by the edge from CloudFront's API.
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")

    api = requests.get(site.url + "api/", timeout=30)
    assert api.status_code == 200, api.text[:500]
    assert api.json()["name"] == "store"
    assert "CloudFront" in api.headers["Via"]

    # The distribution's API origin is the ingress gateway's TLS listener, https only.
    origin = _api_origin(lab)
    declared = lab.runtime.api_origin(RUNTIME)
    assert origin["DomainName"] == declared["domain_name"] == "store.ingress.consul"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["HTTPSPort"] == declared["https_port"]

    again = lab.frontend.create(RUNTIME)
    assert again.terraform is not None and again.terraform.no_changes, again.terraform.output


def test_the_ingress_certificate_names_only_the_api_host(lab: Any, site: Any) -> None:
    """What the edge relies on: the TLS listener's certificate chains to the mesh's roots and
    names the API host; asked for another name, verification fails."""
    origin = lab.runtime.api_origin(RUNTIME)
    roots = requests.get(f"{lab.endpoints.consul_url}/v1/connect/ca/roots", timeout=10).json()
    context = ssl.create_default_context(cadata="".join(r["RootCert"] for r in roots["Roots"]))
    with (
        socket.create_connection(("127.0.0.1", origin["https_port"]), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=origin["domain_name"]) as tls,
    ):
        names = dict(tls.getpeercert()["subjectAltName"])  # type: ignore[arg-type]
    assert names["URI"].endswith(f"/svc/{RUNTIME}-ingress")
    with (
        socket.create_connection(("127.0.0.1", origin["https_port"]), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="store.example.com")


def test_the_edge_refuses_an_origin_whose_certificate_does_not_name_it(lab: Any, site: Any) -> None:
    """A distribution changed outside Terraform to send /api/* to another name on the same
    listener: the gateway's certificate does not name it, so the edge answers CloudFront's 502
    rather than talk to it; the next apply puts the origin back (drift), and the API answers."""
    cloudfront = _client(lab, "cloudfront")
    current = cloudfront.get_distribution_config(Id=site.distribution_id)
    config = current["DistributionConfig"]
    for origin in config["Origins"]["Items"]:
        if origin["Id"] == "api":
            origin["DomainName"] = "store.example.com"
    cloudfront.update_distribution(
        Id=site.distribution_id, IfMatch=current["ETag"], DistributionConfig=config
    )
    lab.sandbox.deploy_distribution(site.account_id, site.distribution_id)
    refused = requests.get(site.url + "api/", timeout=30)
    assert refused.status_code == 502, refused.text[:300]
    assert "TLS certificate" in refused.text

    fixed = lab.frontend.create(RUNTIME)
    assert fixed.terraform is not None
    assert f"{MODULE}.aws_cloudfront_distribution.this" in fixed.terraform.changed
    assert requests.get(fixed.url + "api/", timeout=30).status_code == 200


def test_destroy_leaves_nothing_and_create_restores(lab: Any, site: Any) -> None:
    spec = lab.frontend.spec()
    destroyed = lab.frontend.destroy()
    assert set(destroyed.destroyed) >= DECLARED
    assert lab.tf.runner(FOLDER).state_list() == []
    cloudfront, s3, wafv2 = (_client(lab, s) for s in ("cloudfront", "s3", "wafv2"))
    assert not cloudfront.list_distributions()["DistributionList"].get("Items")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not [b for b in buckets if b.startswith(f"{spec.site}-site-")]
    assert not wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    assert requests.get(site.url, timeout=30).status_code == 404  # the edge serves nothing

    # What a later step calls (notebooks 02 and 03): the frontend applied again, as it is gone.
    link = lab.frontend.require(RUNTIME)
    assert set(lab.tf.runner(FOLDER).state_list()) >= DECLARED
    assert requests.get(link.url + "api/", timeout=30).status_code == 200
    assert lab.frontend.require(RUNTIME).url == link.url  # there: read back, nothing applied
