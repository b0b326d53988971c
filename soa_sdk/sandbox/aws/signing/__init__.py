"""SigV4 authentication of every request, against credentials the sandbox issued.

AWS refuses a request before any service sees it when it is not signed, signed with a key
AWS never issued, signed with the wrong secret, or signed with temporary credentials that
have expired or lack their session token. moto accepts all of these; this package adds the
check in front of it (`SignatureMiddleware`):

- the credentials known are the sandbox's root keys (made by the sandbox with its other
  secrets, given to the server in the environment, see `credentials.ROOT_KEY_ENV`), the keys
  of IAM users (`CreateAccessKey`) and the temporary keys STS issued (`AssumeRole`,
  `AssumeRoleWithWebIdentity`, `AssumeRoleWithSAML`), read from moto's own backends with
  their session token and expiry;
- the expected signature is computed by botocore's own SigV4 signer (`botocore.auth`) on
  the request rebuilt from what arrived: header signatures (`Authorization`) and presigned
  URLs (`X-Amz-Signature` in the query), S3's payload hash header included;
- refusals carry AWS's error code, HTTP status and body in the caller's protocol (query XML,
  EC2 XML, JSON 1.0/1.1, REST-JSON, Smithy RPC v2 CBOR, S3's own XML).

Left open as in AWS: the unsigned STS calls (`AssumeRoleWithWebIdentity`,
`AssumeRoleWithSAML`, whose token is checked by `soa_sdk.sandbox.aws.web_identity`) and the
sandbox's health route. Not modelled: SigV4a, SigV2, the chunk signatures of
`STREAMING-AWS4-HMAC-SHA256-PAYLOAD` uploads (the seed signature is checked), anonymous
access that a bucket policy grants, and `GetSessionToken` / `GetFederationToken` keys
(moto returns fixed example keys for them, which are refused like any unknown key).
"""

from soa_sdk.sandbox.aws.signing.credentials import CredentialStore, RootKeys
from soa_sdk.sandbox.aws.signing.middleware import SignatureMiddleware

__all__ = ["CredentialStore", "RootKeys", "SignatureMiddleware"]
