"""Storage buckets for session recordings (the AWS plugin's S3 buckets).

A bucket in use cannot be deleted, as Boundary's schema refuses it: session recordings
reference their bucket ``on delete restrict``, and a target's ``storage_bucket_id`` is set
null ``on delete``, which the ``validate_target_storage_bucket`` trigger refuses while the
target has ``enable_session_recording`` (``raise exception 'session recording enabled without
storage bucket'``). The database error surfaces as Boundary's generic 500 ``Internal``
(handlers/errors.go). Targets that do not record just lose the reference. The records that
refer to a bucket declare this on their fields; the errors are built here.

Not implemented: storage policies, plugins other than ``aws``, credential rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .crud import COMMON, Crud, check_fields, set_common
from .exceptions import FailedPrecondition, Internal, InvalidArgument
from .recording import S3RecordingStore
from .records import Resource, hmac_of, new_id
from .store import Store

_BUCKET_FIELDS = ("bucket_name", "bucket_prefix", "plugin_name", "plugin_id", "secrets",
                  "worker_filter")  # fmt: skip
_BUCKET_ATTRS = ("region", "endpoint_url", "disable_credential_rotation", "role_arn",
                 "role_external_id", "role_session_name")  # fmt: skip


@dataclass(kw_only=True)
class StorageBucket(Resource):
    TYPE = "storage-bucket"
    PREFIX = "sb"
    COLLECTION = "storage-buckets"
    NAME = "Storage bucket"
    SCOPES = ("global", "org")
    bucket_name: str
    bucket_prefix: str = ""
    plugin_name: str = "aws"
    attributes: dict[str, Any] = field(default_factory=dict)
    secrets_hmac: str = ""
    worker_filter: str = ""

    def key_for(self, recording_id: str) -> str:
        prefix = self.bucket_prefix.strip("/")
        return f"{prefix}/{recording_id}.jsonl" if prefix else f"{recording_id}.jsonl"

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "type": "plugin",
            "plugin_id": "pl_awsplugin",
            "plugin": {"id": "pl_awsplugin", "name": self.plugin_name},
            "bucket_name": self.bucket_name,
            "bucket_prefix": self.bucket_prefix,
            "attributes": dict(self.attributes),
            "secrets_hmac": self.secrets_hmac,
            "worker_filter": self.worker_filter,
        }


def recordings_hold(bucket: Resource, recording_ids: list[str]) -> Internal:
    """The refused delete of a bucket that session recordings reference."""
    return Internal(
        'update or delete on table "storage_plugin_storage_bucket" violates foreign key'
        ' constraint "storage_plugin_storage_bucket_fkey" on table "recording_session":'
        f" storage bucket {bucket.id} holds session recordings ({', '.join(recording_ids)});"
        " storage buckets with session recordings cannot be deleted."
    )


def targets_record_to(bucket: Resource, target_ids: list[str]) -> Internal:
    """The refused delete of a bucket that recording targets record to."""
    return Internal(
        "session recording enabled without storage bucket: target(s)"
        f" {', '.join(target_ids)} record to storage bucket {bucket.id}; turn"
        " their session recording off or give them another storage bucket first."
    )


class StorageOps(Crud):
    recording_store: S3RecordingStore | None

    def _build_storagebucket(self, body: dict[str, Any], scope_id: str) -> StorageBucket:
        attrs = check_fields(body, (*COMMON, *_BUCKET_FIELDS), _BUCKET_ATTRS)
        if body.get("type", "plugin") != "plugin" or body.get("plugin_name", "aws") != "aws":
            raise InvalidArgument(request_fields={"plugin_name": "Only 'aws' is supported."})
        if not body.get("bucket_name"):
            raise InvalidArgument(request_fields={"bucket_name": "This is a required field."})
        if self.recording_store is None:
            raise FailedPrecondition(
                "This sandbox Boundary was started without "
                "--recording-s3-endpoint: no S3 to store recordings in."
            )
        try:
            self.recording_store.check_bucket(body["bucket_name"])
        except Exception as err:  # botocore's ClientError and connection errors alike
            raise InvalidArgument(
                request_fields={"bucket_name": f"Unable to reach bucket: {type(err).__name__}."}
            ) from None
        secrets_given = body.get("secrets") or {}
        sb = StorageBucket(
            id=new_id("sb"), scope_id=scope_id, bucket_name=body["bucket_name"],
            bucket_prefix=body.get("bucket_prefix") or "", attributes=dict(attrs),
            secrets_hmac=hmac_of(repr(sorted(secrets_given.items()))) if secrets_given else "",
            worker_filter=body.get("worker_filter") or "",
        )  # fmt: skip
        set_common(sb, body)
        return sb

    def _update_storagebucket(self, res: StorageBucket, body: dict[str, Any]) -> None:
        attrs = check_fields(body, (*COMMON, "secrets", "worker_filter"),
                             ("region", "endpoint_url", "disable_credential_rotation"))  # fmt: skip
        set_common(res, body)
        res.attributes.update(attrs)
