"""Build and remove everything of step 4: :func:`setup` and :func:`teardown`.

Vault: ``/sys/mounts``, ``/database/config/:name``, ``/database/roles/:name``,
``/sys/policies/acl/:name``, ``/auth/token/create-orphan``, ``/sys/leases/revoke``; a KV
engine keeps passwords and grants (:mod:`.store`). Boundary: the tree of
:mod:`.boundary_setup`. On the sandbox also the prod database itself and the recordings
bucket in S3 (on real endpoints both are Terraform's).
"""

from __future__ import annotations

import secrets

from botocore.exceptions import ClientError

from soa_sdk.access import database
from soa_sdk.access.boundary_setup import BoundarySetup
from soa_sdk.access.context import Context
from soa_sdk.access.grants import JustInTime, cancel_session
from soa_sdk.access.values import SetupReport, TeardownReport
from soa_sdk.vault.errors import vault_errors

RECORDING_BUCKET = "soa-lab-session-recordings"


def setup(ctx: Context) -> SetupReport:
    """Build (or find) everything of step 4; see :meth:`soa_sdk.access.Access.setup`."""
    report = SetupReport()
    if ctx.store.ensure():
        report.changes.append(f"enabled {ctx.store.mount}/")
    db = ctx.spec.database
    if ctx.sandbox:
        admin_pg = ctx.admin_pg()
        report.database_changes += database.prepare_sandbox(admin_pg, db.database)
        connection = admin_pg.for_vault(db.database, db.name)
        report.database_changes += ctx.database.configure(
            connection, database.vault_roles(ctx.spec)
        )
    with vault_errors("write the Boundary policy"):
        ctx.database.write_boundary_policy(sorted({t.database_role for t in ctx.spec.targets}))
    builder = BoundarySetup(ctx.admin(), ctx.spec, report)
    builder.scopes(_projects(ctx))
    builder.identities(lambda user: _password(ctx, user))
    if ctx.sandbox:
        builder.recording_bucket(_recording_bucket(ctx), ctx.region)
    host, port = ctx.database_address()
    builder.targets(host, port, ctx.vault_url or "", ctx.new_vault_token)
    builder.roles(builder.role_plans())
    ctx.ids = report
    ctx.renew_vault_tokens(force=True)
    return report


def _projects(ctx: Context) -> list[str]:
    """A project per runtime (as in the talk), and at least those holding targets."""
    names = {t.project for t in ctx.spec.targets}
    try:
        from soa_sdk.tf.lab_spec import load_mesh

        names |= {r.name for r in load_mesh().runtimes}
    except Exception as error:  # a runtime being written by step 5 must not block step 4
        ctx.progress(f"runtimes not read ({type(error).__name__}); projects for targets")
    return sorted(names)


def _password(ctx: Context, user: str) -> str:
    """The user's login password: from Vault, or generated and stored there now."""
    found = ctx.store.read(f"users/{user}")
    if found and found.get("password"):
        return found["password"]
    password = secrets.token_urlsafe(18)
    ctx.store.write(f"users/{user}", {"password": password})
    return password


def _recording_bucket(ctx: Context) -> str:
    s3 = ctx.aws.client("s3")
    try:
        s3.create_bucket(Bucket=RECORDING_BUCKET)
    except ClientError as error:
        if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    # Readable only by Boundary's writer and the auditors' role (terraform's template).
    from soa_sdk.access import recordings_policy

    recordings_policy.apply(ctx.aws, RECORDING_BUCKET)
    return RECORDING_BUCKET


def teardown(ctx: Context, jit: JustInTime) -> TeardownReport:
    """Remove everything :func:`setup` made; see :meth:`soa_sdk.access.Access.teardown`."""
    report = TeardownReport()
    jit.cancel_timers()
    admin = ctx.admin()
    org = admin.find("scopes", ctx.spec.org, scope_id="global")
    if org is not None:
        for project in admin.list("scopes", "list the projects", scope_id=org["id"]):
            for s in admin.list("sessions", "list sessions", scope_id=project["id"]):
                cancel_session(admin, s)
        admin.delete("scopes", org["id"], f"delete the org {ctx.spec.org!r}")
        report.removed.append(f"boundary org {ctx.spec.org}")
    ctx.ids = None
    vault = ctx.vault
    with vault_errors("tear down the Vault side of step 4"):
        mounts = vault.sys.list_mounted_secrets_engines()
        if f"{ctx.database.mount_point}/" in mounts.get("data", mounts):
            ctx.database.revoke_prefix()
            vault.sys.disable_secrets_engine(ctx.database.mount_point)
            report.removed.append(f"vault {ctx.database.mount_point}/ (leases revoked)")
        for key in ctx.store.keys("boundary-tokens"):
            accessor = (ctx.store.read(key) or {}).get("accessor", "")
            try:
                vault.auth.token.revoke_accessor(accessor)
                report.removed.append(f"vault token of {key.rsplit('/', 1)[-1]}")
            except Exception:  # already expired or revoked
                pass
        from soa_sdk.vault.database import BOUNDARY_POLICY

        if BOUNDARY_POLICY in (vault.sys.list_acl_policies().get("data", {}).get("keys") or []):
            vault.sys.delete_acl_policy(BOUNDARY_POLICY)
            report.removed.append(f"vault policy {BOUNDARY_POLICY}")
    if ctx.store.remove():
        report.removed.append(f"vault {ctx.store.mount}/")
    if ctx.sandbox:
        if _remove_bucket(ctx):
            report.removed.append(f"s3 bucket {RECORDING_BUCKET}")
        pg = ctx.admin_pg()
        if database.drop_sandbox_database(pg, ctx.spec.database.database):
            report.removed.append(f"database {ctx.spec.database.database}")
        report.database_users_left = database.vault_users(pg)
    return report


def _remove_bucket(ctx: Context) -> bool:
    s3 = ctx.aws.client("s3")
    try:
        # The bucket policy denies the administrator the recordings: it may remove the policy.
        s3.delete_bucket_policy(Bucket=RECORDING_BUCKET)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=RECORDING_BUCKET)
        for page in pages:
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=RECORDING_BUCKET, Key=obj["Key"])
        s3.delete_bucket(Bucket=RECORDING_BUCKET)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchBucket", "404"):
            return False
        raise
    return True
