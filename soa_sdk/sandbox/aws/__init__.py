"""The sandbox's AWS server: moto in server mode, plus what moto lacks.

`python -m soa_sdk.sandbox.aws --host 127.0.0.1 --port P` serves every AWS API moto serves,
at the same paths and with the same behaviour as `moto_server`, wrapped in WSGI middleware
that adds:

- SigV4 authentication of every request against the credentials the sandbox issued (its
  root keys, IAM user keys, STS session keys with their expiry), refused with AWS's errors
  (`soa_sdk.sandbox.aws.signing`);
- CloudTrail management events for every API call served, and `LookupEvents`
  (`soa_sdk.sandbox.aws.cloudtrail`);
- STS `AssumeRoleWithWebIdentity` that verifies the web identity token as AWS does
  (`soa_sdk.sandbox.aws.web_identity`).
"""

from soa_sdk.sandbox.aws.app import build_app
from soa_sdk.sandbox.aws.server import AwsServer

__all__ = ["AwsServer", "build_app"]
