"""Build and remove step 4: :func:`setup` and :func:`teardown`.

The standing configuration is the platform team's Terraform, applied through ``lab.tf``:
``terraform/shared_services/vault`` first (the database secrets engine, its connection and
roles, the ``boundary-controller`` and ``database-<role>`` policies), then
``terraform/shared_services/boundary`` (the org, projects, auth method, users with their
initial passwords, groups, roles, credential stores with their periodic Vault tokens,
libraries, hosts and targets). What Terraform does not do stays here: the KV engine of
just-in-time grants (:mod:`.store`), and on the sandbox the ``orders`` rows to query and
session recording (the S3 bucket, the org's storage bucket, the targets' recording; see
:mod:`.boundary_setup`). Teardown cancels the sessions, revokes the database engine's
leases (Vault drops the PostgreSQL users), runs ``terraform destroy`` of both folders,
boundary first, and removes what setup added beside them.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from soa_sdk.access import database
from soa_sdk.access.boundary_setup import BoundarySetup
from soa_sdk.access.context import BOUNDARY_FOLDER, VAULT_FOLDER, Context
from soa_sdk.access.grants import JustInTime, cancel_session
from soa_sdk.access.values import SetupReport, TeardownReport
from soa_sdk.tf.result import PlanSummary
from soa_sdk.vault.errors import vault_errors

RECORDING_BUCKET = "soa-lab-session-recordings"
#: Applied in this order, destroyed in the reverse one (Boundary's tokens carry Vault's
#: policies).
FOLDERS = (VAULT_FOLDER, BOUNDARY_FOLDER)


def _changes(folder: str, summary: PlanSummary) -> list[str]:
    """What one apply or destroy did, address by address."""
    done = [("created", summary.created), ("changed", summary.changed)]
    done.append(("destroyed", summary.destroyed))
    return [f"{folder}: {verb} {address}" for verb, addresses in done for address in addresses]


def setup(ctx: Context) -> SetupReport:
    """Apply step 4's folders and do what Terraform does not; see
    :meth:`soa_sdk.access.Access.setup`."""
    terraform = ctx.tf()
    report = SetupReport()
    if ctx.store.ensure():
        report.changes.append(f"enabled {ctx.store.mount}/")
    for folder in FOLDERS:
        summary = terraform.apply(folder)
        report.terraform[folder] = summary
        report.changes += _changes(folder, summary)
    ctx.ids = None
    ids = ctx.lookup()
    report.org_id, report.auth_method_id = ids.org_id, ids.auth_method_id
    report.projects, report.users = ids.projects, ids.users
    report.groups, report.targets = ids.groups, ids.targets
    admin = ctx.admin()
    for scope_id in (ids.org_id, *ids.projects.values()):
        for role in admin.list("roles", "list roles", scope_id=scope_id):
            report.roles[role["name"]] = role["id"]
    if ctx.sandbox:
        report.database_changes += database.seed_orders(ctx.admin_pg(), ctx.spec.database.database)
        builder = BoundarySetup(admin, ctx.spec, report)
        builder.recording_bucket(_recording_bucket(ctx), ctx.region)
        builder.record_targets()
    ctx.ids = report
    return report


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
    terraform = ctx.tf()
    report = TeardownReport()
    jit.cancel_timers()
    admin = ctx.admin()
    org = admin.find("scopes", ctx.spec.org, scope_id="global")
    if org is not None:
        for project in admin.list("scopes", "list the projects", scope_id=org["id"]):
            for s in admin.list("sessions", "list sessions", scope_id=project["id"]):
                cancel_session(admin, s)
    ctx.ids = None
    with vault_errors("revoke the leases of step 4"):
        mounts = ctx.vault.sys.list_mounted_secrets_engines()
        if f"{ctx.database.mount_point}/" in mounts.get("data", mounts):
            ctx.database.revoke_prefix()
            report.removed.append(f"leases of vault {ctx.database.mount_point}/")
    for folder in reversed(FOLDERS):
        summary = terraform.destroy(folder)
        report.terraform[folder] = summary
        report.removed += _changes(folder, summary)
    if org is not None and admin.find("scopes", ctx.spec.org, scope_id="global") is None:
        report.removed.append(f"boundary org {ctx.spec.org}")
    if ctx.store.remove():
        report.removed.append(f"vault {ctx.store.mount}/")
    if ctx.sandbox:
        if _remove_bucket(ctx):
            report.removed.append(f"s3 bucket {RECORDING_BUCKET}")
        pg = ctx.admin_pg()
        if database.drop_orders(pg, ctx.spec.database.database):
            report.removed.append(f"table {ctx.spec.database.database}.public.orders")
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
