"""STS `AssumeRoleWithWebIdentity` that checks the web identity token as AWS does."""

from soa_sdk.sandbox.aws.web_identity.jwks import JwksCache
from soa_sdk.sandbox.aws.web_identity.middleware import WebIdentityMiddleware
from soa_sdk.sandbox.aws.web_identity.verifier import WebIdentityVerifier

__all__ = ["JwksCache", "WebIdentityMiddleware", "WebIdentityVerifier"]
