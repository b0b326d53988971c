"""The sandbox's CloudFront edge: it serves the frontend runtime's distribution on a local URL.

``terraform/runtime_frontend`` declares the store's web frontend as a static site in an S3
bucket of the ``frontend`` account behind a CloudFront distribution (module
``terraform/modules/static_site``): the default root object ``index.html`` and every other
path from the S3 origin, ``/api/*`` to the store runtime's ingress, a response-headers policy
with the security headers. moto keeps the distribution (``CreateDistribution``,
``GetDistributionConfig``) and the bucket, but serves neither: no request ever reaches a
distribution's domain name. This process does what CloudFront's edge does with them, for one
distribution at a time (:mod:`.edge`):

- it reads the distribution's configuration from the CloudFront API and the objects from S3
  in the distribution's account, with signed requests (SigV4, the sandbox's keys, through
  ``AssumeRole`` of ``OrganizationAccountAccessRole`` in that account);
- a request for ``/`` gets the default root object; the cache behaviours are matched in
  order by ``PathPattern`` (``*`` and ``?`` wildcards, case sensitive), the default
  behaviour otherwise; a method outside the behaviour's ``AllowedMethods`` gets CloudFront's
  403;
- an S3 origin answers with ``GetObject`` (the key is the path below ``OriginPath``), S3's
  own status and error body passed through; a custom origin gets the request forwarded
  (method, path, query string, body, the viewer's headers, ``Host`` set to the origin's
  ``DomainName``): with ``OriginProtocolPolicy`` ``https-only`` over TLS 1.2+ to
  ``HTTPSPort``, the domain as SNI, the certificate verified against the mesh's CA roots
  (Consul's ``GET /v1/connect/ca/roots``: the origin is the store's ingress gateway, whose
  TLS listener serves its Connect leaf), else over HTTP to ``HTTPPort``;
- every answer carries the headers of the response-headers policy its cache behaviour names
  (``GetResponseHeadersPolicy``: security and custom headers, overriding the origin's where
  the policy says so) and CloudFront's ``Via``, ``X-Cache``, ``X-Amz-Cf-Pop`` and
  ``X-Amz-Cf-Id``.

What of CloudFront it does not do: caching (no cache policy or TTL is applied: every request
goes to the origin, so "Miss from cloudfront" always, and invalidations are not needed),
HTTPS to viewers and ``redirect-to-https`` (the sandbox serves plain HTTP on the loopback,
so ``Strict-Transport-Security`` is sent but browsers ignore it on http, and ``match-viewer``
reaches origins over http), DNS (every origin's domain resolves to the loopback), publicly
trusted CAs (only the mesh's roots are trusted: on AWS a load balancer with an ACM certificate
would front the ingress), CORS and server-timing headers of a policy, the WAF web ACL, its
logs and rate limit, compression, HTTP/2 and 3, edge locations and price classes, geo
restrictions, origin groups and failover, custom error responses, signed URLs and cookies,
CloudFront Functions and Lambda@Edge, aliases and certificates, origin access control's own
signing (the stand-in reads the bucket as the account's role, not as the
``cloudfront.amazonaws.com`` principal the module's bucket policy names), and more than one
distribution at a time.

The control API (sandbox only: on AWS a distribution is served as soon as it is deployed)
is guarded like the workload host's: a bearer token (the sandbox's ``frontend_api_token``),
the ``Host`` header naming the loopback, JSON bodies only.

- ``GET /sandbox/health`` -> ``{"status": "ok", "distribution": id | null}`` (no token)
- ``PUT /sandbox/distribution`` {account_id, distribution_id}
  -> the distribution being served
- ``GET /sandbox/distribution`` -> the same, or 404
- ``DELETE /sandbox/distribution`` -> 204, nothing served any more
"""

from __future__ import annotations

TOKEN_ENV = "SOA_LAB_FRONTEND_TOKEN"
"""The environment variable that brings the control API's token."""

CONTROL_PREFIX = "/sandbox/"
"""Paths under this prefix are the control API's; the distribution never sees them."""

CONTROL_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/sandbox/health"),
    ("GET", "/sandbox/distribution"),
    ("PUT", "/sandbox/distribution"),
    ("DELETE", "/sandbox/distribution"),
)
"""The control API's route table (method, path); only ``GET /sandbox/health`` is open."""

__all__ = ["CONTROL_PREFIX", "CONTROL_ROUTES", "TOKEN_ENV"]
