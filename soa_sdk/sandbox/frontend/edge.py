"""The edge: route a viewer request the way a CloudFront distribution's configuration says
(see the package docstring for what it does and does not do of CloudFront)."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import requests
import urllib3

from soa_sdk.awsclient import new_session
from soa_sdk.sandbox.frontend import CONTROL_PREFIX, CONTROL_ROUTES
from soa_sdk.sandbox.headers import NOT_FORWARDED

log = logging.getLogger(__name__)

ROLE = "OrganizationAccountAccessRole"
POP = "SBX1-C1"
"""The edge location the sandbox's answers name (``X-Amz-Cf-Pop``)."""


# -- the configuration ------------------------------------------------------------------------
def policy_headers(config: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The headers a ``ResponseHeadersPolicyConfig`` (CloudFront API shape) adds: (name,
    value, override). Security headers and custom headers; CORS and server-timing are not
    applied."""
    out: list[tuple[str, str, bool]] = []
    sec = config.get("SecurityHeadersConfig") or {}
    if "ContentTypeOptions" in sec:
        out.append(("X-Content-Type-Options", "nosniff", _override(sec["ContentTypeOptions"])))
    if "FrameOptions" in sec:
        frame = sec["FrameOptions"]
        out.append(("X-Frame-Options", frame["FrameOption"], _override(frame)))
    if "ReferrerPolicy" in sec:
        referrer = sec["ReferrerPolicy"]
        out.append(("Referrer-Policy", referrer["ReferrerPolicy"], _override(referrer)))
    if "StrictTransportSecurity" in sec:
        hsts = sec["StrictTransportSecurity"]
        value = f"max-age={int(hsts['AccessControlMaxAgeSec'])}"
        if hsts.get("IncludeSubdomains"):
            value += "; includeSubDomains"
        if hsts.get("Preload"):
            value += "; preload"
        out.append(("Strict-Transport-Security", value, _override(hsts)))
    if "ContentSecurityPolicy" in sec:
        csp = sec["ContentSecurityPolicy"]
        out.append(("Content-Security-Policy", csp["ContentSecurityPolicy"], _override(csp)))
    if "XSSProtection" in sec:
        xss = sec["XSSProtection"]
        value = "1" if xss.get("Protection") else "0"
        if xss.get("Protection") and xss.get("ModeBlock"):
            value += "; mode=block"
        out.append(("X-XSS-Protection", value, _override(xss)))
    for item in (config.get("CustomHeadersConfig") or {}).get("Items", []):
        out.append((item["Header"], item["Value"], _override(item)))
    return out


def _override(setting: dict[str, Any]) -> bool:
    return bool(setting.get("Override"))


def path_pattern(pattern: str) -> re.Pattern[str]:
    """A cache behaviour's ``PathPattern`` as a regular expression: ``*`` any characters
    (``/`` included), ``?`` exactly one; the leading ``/`` is optional, as CloudFront's."""
    body = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lstrip("/")
    )
    return re.compile("/" + body)


@dataclass
class Deployment:
    """The distribution the edge serves."""

    account_id: str
    distribution_id: str
    domain_name: str
    config: dict[str, Any]
    policies: dict[str, list[tuple[str, str, bool]]] = field(default_factory=dict)
    """The headers each response-headers policy the behaviours name adds, by policy id."""

    def behaviour(self, path: str) -> dict[str, Any]:
        """The cache behaviour for ``path``: the first ordered one whose pattern matches, else
        the default one."""
        for item in (self.config.get("CacheBehaviors") or {}).get("Items") or []:
            if path_pattern(item["PathPattern"]).fullmatch(path):
                return dict(item)
        return dict(self.config["DefaultCacheBehavior"])

    def origin(self, origin_id: str) -> dict[str, Any]:
        for origin in self.config["Origins"]["Items"]:
            if origin["Id"] == origin_id:
                return dict(origin)
        raise KeyError(origin_id)

    def summary(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "distribution_id": self.distribution_id,
            "domain_name": self.domain_name,
            "default_root_object": self.config.get("DefaultRootObject", ""),
            "behaviours": [
                item["PathPattern"]
                for item in (self.config.get("CacheBehaviors") or {}).get("Items") or []
            ]
            + ["*"],
            "response_headers": sorted(
                {name for headers in self.policies.values() for name, _, _ in headers}
            ),
        }


# -- AWS -----------------------------------------------------------------------------------------
class AwsReader:
    """Signed calls into the distribution's account: ``AssumeRole`` with the sandbox's keys,
    then CloudFront and S3 with the role's credentials (renewed before they expire)."""

    def __init__(self, aws_url: str, access_key: str, secret_key: str) -> None:
        self.aws_url = aws_url
        self._keys = (access_key, secret_key)
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[boto3.Session, datetime]] = {}

    def session(self, account_id: str) -> boto3.Session:
        with self._lock:
            found = self._sessions.get(account_id)
            if found and found[1] - datetime.now(UTC) > timedelta(minutes=5):
                return found[0]
            sts = boto3.client(
                "sts",
                endpoint_url=self.aws_url,
                region_name="us-east-1",
                aws_access_key_id=self._keys[0],
                aws_secret_access_key=self._keys[1],
            )
            reply = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}",
                RoleSessionName="cloudfront-edge",
            )["Credentials"]
            session = new_session(
                aws_access_key_id=reply["AccessKeyId"],
                aws_secret_access_key=reply["SecretAccessKey"],
                aws_session_token=reply["SessionToken"],
                region_name="us-east-1",
            )
            self._sessions[account_id] = (session, reply["Expiration"])
            return session

    def client(self, account_id: str, service: str) -> Any:
        return self.session(account_id).client(service, endpoint_url=self.aws_url)

    def distribution(self, account_id: str, distribution_id: str) -> Deployment:
        """A distribution as the edge serves it: its domain name, ``DistributionConfig`` and
        the response-headers policies its behaviours name (``GetResponseHeadersPolicy``)."""
        cloudfront = self.client(account_id, "cloudfront")
        distribution = cloudfront.get_distribution(Id=distribution_id)["Distribution"]
        config = distribution["DistributionConfig"]
        behaviours = [
            config["DefaultCacheBehavior"],
            *((config.get("CacheBehaviors") or {}).get("Items") or []),
        ]
        policies = {}
        for policy_id in {b.get("ResponseHeadersPolicyId") for b in behaviours} - {"", None}:
            policy = cloudfront.get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"]
            policies[policy_id] = policy_headers(policy["ResponseHeadersPolicyConfig"])
        return Deployment(account_id, distribution_id, distribution["DomainName"], config, policies)


class OriginTrust:
    """What the edge trusts of a custom origin's certificate: the mesh's CA roots, read from
    Consul (``GET /v1/connect/ca/roots``, no token needed). The origin the distribution names
    is the store's ingress gateway, whose TLS certificate is its Connect leaf; CloudFront
    trusts only publicly trusted CAs, so on AWS a load balancer with an ACM certificate would
    sit in front of it."""

    def __init__(self, consul_url: str) -> None:
        self.consul_url = consul_url.rstrip("/")
        self._context: ssl.SSLContext | None = None

    def context(self, fresh: bool = False) -> ssl.SSLContext:
        if self._context is None or fresh:
            reply = requests.get(f"{self.consul_url}/v1/connect/ca/roots", timeout=10)
            reply.raise_for_status()
            pems = "".join(root["RootCert"] for root in reply.json()["Roots"])
            context = ssl.create_default_context(cadata=pems)
            context.minimum_version = ssl.TLSVersion.TLSv1_2  # origin_ssl_protocols TLSv1.2
            self._context = context
        return self._context


# -- the server ----------------------------------------------------------------------------------
class Edge:
    """What the edge serves, and its control API's state (kept in ``state_file`` so that a
    restarted edge serves the same distribution)."""

    def __init__(
        self,
        reader: AwsReader,
        trust: OriginTrust,
        token: str,
        state_file: Path | None = None,
    ) -> None:
        self.reader = reader
        self.trust = trust
        self.token = token
        self.state_file = state_file
        self.deployment: Deployment | None = None
        self.allowed_hosts: set[str] = set()
        self._pools: dict[tuple[str, int, bool], urllib3.HTTPConnectionPool] = {}
        self._pools_lock = threading.Lock()

    def origin_pool(
        self, domain: str, port: int, secure: bool, fresh: bool = False
    ) -> urllib3.HTTPConnectionPool:
        """Connections to a custom origin. Every origin's domain resolves to the loopback on
        the sandbox; over https the edge sends the domain as SNI and verifies the certificate
        names it (``fresh``: the CA roots read again, after a rotation)."""
        key = (domain, port, secure)
        with self._pools_lock:
            if fresh or key not in self._pools:
                if secure:
                    self._pools[key] = urllib3.HTTPSConnectionPool(
                        "127.0.0.1",
                        port,
                        server_hostname=domain,
                        assert_hostname=domain,
                        ssl_context=self.trust.context(fresh),
                        maxsize=8,
                    )
                else:
                    self._pools[key] = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=8)
            return self._pools[key]

    def deploy(self, account_id: str, distribution_id: str) -> Deployment:
        deployment = self.reader.distribution(account_id, distribution_id)
        self.deployment = deployment
        if self.state_file is not None:
            record = {"account_id": account_id, "distribution_id": distribution_id}
            self.state_file.write_text(json.dumps(record))
        log.info("serving distribution %s of account %s", distribution_id, account_id)
        return deployment

    def via(self) -> str:
        """What the edge adds to ``Via``: the distribution's domain name."""
        return self.deployment.domain_name if self.deployment else "cloudfront"

    def forget(self) -> None:
        self.deployment = None
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)

    def restore(self) -> None:
        """Serve again what was deployed before a restart (if it still exists)."""
        if self.state_file is None or not self.state_file.exists():
            return
        record = json.loads(self.state_file.read_text())
        try:
            self.deploy(record["account_id"], record["distribution_id"])
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            log.warning("the distribution deployed before is gone (%s)", error)

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        edge = self

        class Handler(_Handler):
            pass

        Handler.edge = edge
        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        bound = server.server_address[1]
        self.allowed_hosts = {f"127.0.0.1:{bound}", f"localhost:{bound}"}
        return server


class _Handler(BaseHTTPRequestHandler):
    edge: Edge
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "CloudFront"

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- dispatch ----------------------------------------------------------------------------
    def _handle(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if path.startswith(CONTROL_PREFIX):
            status, headers, payload = self._control(path, body)
        else:
            status, headers, payload = self._viewer(body)
        self._send(status, headers, payload)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # -- the control API -----------------------------------------------------------------------
    def _control(self, path: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        edge = self.edge
        if path == "/sandbox/health" and self.command == "GET":
            current = edge.deployment.distribution_id if edge.deployment else None
            return _json(200, {"status": "ok", "distribution": current})
        if self.headers.get("Host") not in edge.allowed_hosts:
            return _json(403, {"error": "the Host header must name the loopback address"})
        given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if not given:
            return _json(401, {"error": "a bearer token is required"})
        if not hmac.compare_digest(given.encode(), edge.token.encode()):
            return _json(403, {"error": "the token is not the edge's"})
        if path not in {p for _, p in CONTROL_ROUTES}:
            return _json(404, {"error": f"no such path {path}"})
        if (self.command, path) not in CONTROL_ROUTES:
            return _json(405, {"error": f"{self.command} is not allowed here"})
        if self.command == "GET":
            if edge.deployment is None:
                return _json(404, {"error": "no distribution is deployed"})
            return _json(200, edge.deployment.summary())
        if self.command == "DELETE":
            edge.forget()
            return 204, [], b""
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return _json(415, {"error": "the body must be JSON"})
        try:
            request = json.loads(body)
            account_id = str(request["account_id"])
            distribution_id = str(request["distribution_id"])
        except (ValueError, KeyError, TypeError) as error:
            return _json(400, {"error": f"the body is not a deployment request ({error})"})
        try:
            deployment = edge.deploy(account_id, distribution_id)
        except botocore.exceptions.ClientError as error:
            return _json(400, {"error": f"the distribution cannot be read: {error}"})
        except (botocore.exceptions.BotoCoreError, KeyError) as error:
            return _json(502, {"error": f"the AWS API failed: {error}"})
        return _json(200, deployment.summary())

    # -- viewers -----------------------------------------------------------------------------------
    def _viewer(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        deployment = self.edge.deployment
        request_id = base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()
        if deployment is None:
            status, headers, payload = _error_page(
                404, "The store's frontend is not deployed yet: run step 1 (lab.frontend.create)."
            )
            return status, headers, payload
        split = urlsplit(self.path)
        path = split.path
        if path == "/" and deployment.config.get("DefaultRootObject"):
            path = "/" + deployment.config["DefaultRootObject"]
        behaviour = deployment.behaviour(split.path)
        allowed = behaviour.get("AllowedMethods", {}).get("Items") or ["GET", "HEAD"]
        if self.command not in allowed:
            status, headers, payload = _error_page(
                403,
                "This distribution is not configured to allow the HTTP request method that was "
                "used for this request. The distribution supports only cachable requests.",
            )
        else:
            origin = deployment.origin(behaviour["TargetOriginId"])
            if "CustomOriginConfig" in origin:
                query = f"?{split.query}" if split.query else ""
                status, headers, payload = self._forward(origin, path + query, body)
            else:
                status, headers, payload = self._object(deployment, origin, path)
        policy = deployment.policies.get(behaviour.get("ResponseHeadersPolicyId") or "", [])
        return status, self._edge_headers(deployment, policy, headers, request_id), payload

    def _object(
        self, deployment: Deployment, origin: dict[str, Any], path: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        bucket = origin["DomainName"].split(".s3.")[0].removesuffix(".s3.amazonaws.com")
        key = (origin.get("OriginPath") or "").strip("/")
        key = f"{key}/{path.lstrip('/')}" if key else path.lstrip("/")
        s3 = self.edge.reader.client(deployment.account_id, "s3")
        try:
            reply = s3.get_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as error:
            status = int(error.response["ResponseMetadata"]["HTTPStatusCode"])
            code = error.response["Error"].get("Code", "Error")
            message = error.response["Error"].get("Message", "")
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{message}</Message><Key>{key}</Key></Error>"
            )
            return status, [("Content-Type", "application/xml")], xml.encode()
        headers = [("Content-Type", reply.get("ContentType") or "binary/octet-stream")]
        if reply.get("ETag"):
            headers.append(("ETag", reply["ETag"]))
        if reply.get("LastModified"):
            headers.append(("Last-Modified", _http_date(reply["LastModified"])))
        return 200, headers, reply["Body"].read()

    def _forward(
        self, origin: dict[str, Any], target: str, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """A custom origin: ``https-only`` over TLS to ``HTTPSPort``, else (``http-only``, and
        ``match-viewer`` since viewers reach the sandbox's edge over http) to ``HTTPPort``;
        ``Host`` is the origin's domain (the managed ``AllViewerExceptHostHeader`` policy)."""
        custom = origin["CustomOriginConfig"]
        secure = custom.get("OriginProtocolPolicy") == "https-only"
        port = int(custom["HTTPSPort"] if secure else custom["HTTPPort"])
        domain = origin["DomainName"]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
        headers["Host"] = domain
        headers["Via"] = f"1.1 {self.edge.via()} (CloudFront)"
        timeout = urllib3.Timeout(total=(custom.get("OriginReadTimeout") or 30) + 0.0)
        path = f"{origin.get('OriginPath') or ''}{target}"
        reply = None
        for fresh in (False, True):
            pool = self.edge.origin_pool(domain, port, secure, fresh)
            try:
                reply = pool.urlopen(
                    self.command,
                    path,
                    body=body or None,
                    headers=headers,
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                    decode_content=True,
                )
                break
            except urllib3.exceptions.SSLError:
                if fresh:
                    return _error_page(
                        502, "CloudFront could not verify the origin's TLS certificate."
                    )
            except (urllib3.exceptions.HTTPError, OSError):
                return _error_page(
                    502, "CloudFront wasn't able to connect to the origin (the store's ingress)."
                )
        assert reply is not None
        passed = [
            (k, v)
            for k, v in reply.headers.items()
            if k.lower() not in NOT_FORWARDED and k.lower() != "content-encoding"
        ]
        return reply.status, passed, reply.data

    def _edge_headers(
        self,
        deployment: Deployment,
        policy: list[tuple[str, str, bool]],
        headers: list[tuple[str, str]],
        request_id: str,
    ) -> list[tuple[str, str]]:
        out = list(headers)
        for name, value, override in policy:
            present = any(k.lower() == name.lower() for k, _ in out)
            if present and not override:
                continue
            out = [(k, v) for k, v in out if k.lower() != name.lower()] + [(name, value)]
        if not any(k.lower() == "x-cache" for k, _ in out):
            out.append(("X-Cache", "Miss from cloudfront"))
        out += [
            ("Via", f"1.1 {deployment.domain_name} (CloudFront)"),
            ("X-Amz-Cf-Pop", POP),
            ("X-Amz-Cf-Id", request_id),
            ("Cache-Control", "no-store"),
        ]
        return out


def _json(status: int, document: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps(document).encode()


def _error_page(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    title = {403: "403 ERROR", 404: "404 ERROR", 502: "502 ERROR"}.get(status, f"{status} ERROR")
    page = (
        "<!DOCTYPE html><html><head><title>ERROR: The request could not be satisfied</title>"
        f"</head><body><h1>{title}</h1><h2>The request could not be satisfied.</h2>"
        f"<p>{message}</p><hr><p>Generated by cloudfront (CloudFront)</p></body></html>"
    )
    return (
        status,
        [("Content-Type", "text/html"), ("X-Cache", "Error from cloudfront")],
        page.encode(),
    )


def _http_date(when: datetime) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", when.astimezone(UTC).timetuple())
