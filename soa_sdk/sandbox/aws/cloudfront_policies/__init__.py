"""The CloudFront policy APIs the sandbox adds to moto (cache, origin request and response
headers policies: :mod:`.middleware`), and the origin field moto drops (:mod:`.origins`)."""

from soa_sdk.sandbox.aws.cloudfront_policies.middleware import CloudFrontPoliciesMiddleware
from soa_sdk.sandbox.aws.cloudfront_policies.origins import keep_origin_access_control

__all__ = ["CloudFrontPoliciesMiddleware", "keep_origin_access_control"]
