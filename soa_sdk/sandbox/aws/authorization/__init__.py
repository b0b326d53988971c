"""IAM authorization in the sandbox AWS server: moto's policy engine, switched on and completed.

`install(root, boundary)` runs once in the server process, before it serves:

- moto's IAM enforcement is switched on from the first request
  (`moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0`), in place of moto's own hook
  (`ActionAuthenticatorMixin._authenticate_and_authorize_action`) a sandbox one that skips
  moto's second signature check (`SignatureMiddleware` has already verified it, also for
  presigned URLs and gzip bodies, which moto's check gets wrong) and then asks moto's policy
  engine (`moto.iam.access_control`) whether the caller's identity policies allow the action;
  refusals are moto's `AccessDenied` errors, before the backend changes anything. CloudTrail
  `LookupEvents`, which the sandbox serves itself, gets the same check
  (`enforce.check_signed`, from `soa_sdk.sandbox.aws.cloudtrail.middleware`);
- the sandbox's root keys become the keys of an IAM user, `soa-lab-admin`, with
  `AdministratorAccess`, in the management account (moto authorizes IAM users' and assumed
  roles' keys only). `GetCallerIdentity` with the root keys therefore answers
  ``arn:aws:iam::123456789012:user/soa-lab-admin``: an SSO administrator's session would
  answer an assumed-role ARN, not the account root, so nothing in the lab depends on it;
- Boundary's writer, `boundary-session-recordings`, an IAM user without policies whose keys
  Boundary's storage plugin uses (the bucket policy alone lets it write recordings);
- `CreateAccount` gives the new account's `OrganizationAccountAccessRole` `AdministratorAccess`,
  as AWS does (moto creates it with no permissions);
- S3 requests on a bucket that has a bucket policy are decided with that policy too
  (`soa_sdk.sandbox.aws.authorization.bucket_policy`; moto does not evaluate bucket policies).

Trust policies that name an account (``arn:aws:iam::ACCOUNT:root`` or the bare id) trust every
principal of that account whose own policies allow `sts:AssumeRole`, as in AWS (moto compares
the ARN literally). Not implemented, as in moto: permission boundaries, session policies,
SCPs, conditions in identity policies, and resource-level ARNs outside S3, IAM roles and
STS (moto checks most actions against resource ``*``).
"""

from soa_sdk.sandbox.aws.authorization.bootstrap import (
    ADMIN_USER,
    BOUNDARY_KEY_ENV,
    BOUNDARY_USER,
    install,
)

__all__ = ["ADMIN_USER", "BOUNDARY_KEY_ENV", "BOUNDARY_USER", "install"]
