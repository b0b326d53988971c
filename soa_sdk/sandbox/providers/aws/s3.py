"""S3: buckets and the bucket configurations that are resources of their own."""

from __future__ import annotations

from typing import Any, ClassVar

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import (
    drop_none,
    missing,
    one,
    policy_as_written,
    tag_dict,
    tag_list,
    timestamp,
)
from soa_sdk.sandbox.providers.framework import (
    ProviderError,
    State,
)

_S3_HOSTED_ZONES = {"us-east-1": "Z3AQBSTGFYJSTF", "eu-west-1": "Z1BKCTXD74EZPE"}


class Bucket(AwsResource):
    type_name = "aws_s3_bucket"
    tagged = True

    def create(self, planned: State, config: State) -> State:
        s3, name = self.client("s3"), planned.get("bucket")
        if not isinstance(name, str):
            raise ProviderError(
                "aws_s3_bucket needs a bucket name here (bucket_prefix is not supported)"
            )
        arguments: dict[str, Any] = {"Bucket": name}
        if self.provider.region != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.provider.region}
        if planned.get("object_lock_enabled"):
            arguments["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**arguments)
        self.made({**planned, "id": name})
        tags = planned.get("tags_all") or {}
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags)})
        return self.read({**planned, "id": name}) or {}

    def read(self, state: State) -> State | None:
        s3, name = self.client("s3"), state["id"]
        if missing(lambda: s3.head_bucket(Bucket=name), "NoSuchBucket", "404") is None:
            return None
        tagging = missing(lambda: s3.get_bucket_tagging(Bucket=name), "NoSuchTagSet")
        lock = missing(
            lambda: s3.get_object_lock_configuration(Bucket=name),
            "ObjectLockConfigurationNotFoundError",
            "InvalidRequest",
        )
        region = self.provider.region
        state = {
            **state,
            "id": name,
            "bucket": name,
            "bucket_prefix": state.get("bucket_prefix"),
            "arn": f"arn:aws:s3:::{name}",
            "bucket_domain_name": f"{name}.s3.amazonaws.com",
            "bucket_regional_domain_name": f"{name}.s3.{region}.amazonaws.com",
            "hosted_zone_id": _S3_HOSTED_ZONES.get(region, "Z3AQBSTGFYJSTF"),
            "region": region,
            "object_lock_enabled": bool(
                lock
                and lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            ),
            "force_destroy": state.get("force_destroy", False),
        }
        return self.with_tags(state, tag_dict((tagging or {}).get("TagSet")))

    def update(self, prior: State, planned: State, config: State) -> State:
        s3, tags = self.client("s3"), planned.get("tags_all") or {}
        if tags != (prior.get("tags_all") or {}):
            if tags:
                s3.put_bucket_tagging(Bucket=prior["id"], Tagging={"TagSet": tag_list(tags)})
            else:
                s3.delete_bucket_tagging(Bucket=prior["id"])
        return self.read(planned) or {}

    def delete(self, prior: State) -> None:
        s3, name = self.client("s3"), prior["id"]
        if prior.get("force_destroy"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
        s3.delete_bucket(Bucket=name)

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id, "force_destroy": False})


class BucketPart(AwsResource):
    """A resource that configures one aspect of a bucket; its id is the bucket name."""

    def create(self, planned: State, config: State) -> State:
        self.put(planned)
        return self.read({**planned, "id": planned["bucket"]}) or {}

    def update(self, prior: State, planned: State, config: State) -> State:
        self.put(planned)
        return self.read(planned) or {}

    def put(self, planned: State) -> None:
        raise NotImplementedError

    def get(self, bucket: str) -> Any:
        raise NotImplementedError

    def read(self, state: State) -> State | None:
        bucket = state["id"]
        found = self.get(bucket)
        if found is None:
            return None
        return {
            **state,
            "id": bucket,
            "bucket": bucket,
            "region": self.provider.region,
            **self.from_api(state, found),
        }

    def from_api(self, state: State, found: Any) -> State:
        raise NotImplementedError


class PublicAccessBlock(BucketPart):
    type_name = "aws_s3_bucket_public_access_block"
    _fields: ClassVar[dict[str, str]] = {
        "block_public_acls": "BlockPublicAcls",
        "block_public_policy": "BlockPublicPolicy",
        "ignore_public_acls": "IgnorePublicAcls",
        "restrict_public_buckets": "RestrictPublicBuckets",
    }

    def put(self, planned: State) -> None:
        self.client("s3").put_public_access_block(
            Bucket=planned["bucket"],
            PublicAccessBlockConfiguration={
                api: bool(planned.get(name)) for name, api in self._fields.items()
            },
        )

    def get(self, bucket: str) -> Any:
        return missing(
            lambda: self.client("s3").get_public_access_block(Bucket=bucket),
            "NoSuchPublicAccessBlockConfiguration",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        configuration = found["PublicAccessBlockConfiguration"]
        return {name: bool(configuration.get(api)) for name, api in self._fields.items()}

    def delete(self, prior: State) -> None:
        if not prior.get("skip_destroy"):
            self.client("s3").delete_public_access_block(Bucket=prior["bucket"])


class OwnershipControls(BucketPart):
    type_name = "aws_s3_bucket_ownership_controls"

    def put(self, planned: State) -> None:
        self.client("s3").put_bucket_ownership_controls(
            Bucket=planned["bucket"],
            OwnershipControls={
                "Rules": [{"ObjectOwnership": r["object_ownership"]} for r in planned["rule"]]
            },
        )

    def get(self, bucket: str) -> Any:
        return missing(
            lambda: self.client("s3").get_bucket_ownership_controls(Bucket=bucket),
            "OwnershipControlsNotFoundError",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        rules = found["OwnershipControls"]["Rules"]
        return {"rule": [{"object_ownership": r["ObjectOwnership"]} for r in rules]}

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_ownership_controls(Bucket=prior["bucket"])


class Versioning(BucketPart):
    type_name = "aws_s3_bucket_versioning"

    def put(self, planned: State) -> None:
        rule = planned["versioning_configuration"][0]
        configuration = {"Status": rule["status"]}
        if isinstance(rule.get("mfa_delete"), str):
            configuration["MFADelete"] = rule["mfa_delete"]
        arguments: dict[str, Any] = {
            "Bucket": planned["bucket"],
            "VersioningConfiguration": configuration,
        }
        if planned.get("mfa"):
            arguments["MFA"] = planned["mfa"]
        self.client("s3").put_bucket_versioning(**arguments)

    def get(self, bucket: str) -> Any:
        found = missing(
            lambda: self.client("s3").get_bucket_versioning(Bucket=bucket), "NoSuchBucket"
        )
        return found if found and found.get("Status") else None

    def from_api(self, state: State, found: Any) -> State:
        return {
            "versioning_configuration": [
                {"status": found["Status"], "mfa_delete": found.get("MFADelete", "Disabled")}
            ]
        }

    def delete(self, prior: State) -> None:
        self.client("s3").put_bucket_versioning(
            Bucket=prior["bucket"], VersioningConfiguration={"Status": "Suspended"}
        )


class ServerSideEncryption(BucketPart):
    type_name = "aws_s3_bucket_server_side_encryption_configuration"

    def put(self, planned: State) -> None:
        rules = []
        for rule in planned["rule"]:
            api: dict[str, Any] = {}
            if rule.get("bucket_key_enabled") is not None:
                api["BucketKeyEnabled"] = rule["bucket_key_enabled"]
            for default in rule.get("apply_server_side_encryption_by_default") or []:
                api["ApplyServerSideEncryptionByDefault"] = {
                    "SSEAlgorithm": default["sse_algorithm"]
                }
                if default.get("kms_master_key_id"):
                    api["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default[
                        "kms_master_key_id"
                    ]
            rules.append(api)
        self.client("s3").put_bucket_encryption(
            Bucket=planned["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
        )

    def get(self, bucket: str) -> Any:
        return missing(
            lambda: self.client("s3").get_bucket_encryption(Bucket=bucket),
            "ServerSideEncryptionConfigurationNotFoundError",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        rules = []
        for rule in found["ServerSideEncryptionConfiguration"]["Rules"]:
            default = rule.get("ApplyServerSideEncryptionByDefault")
            rules.append(
                {
                    "bucket_key_enabled": rule.get("BucketKeyEnabled"),
                    "apply_server_side_encryption_by_default": [
                        {
                            "sse_algorithm": default["SSEAlgorithm"],
                            "kms_master_key_id": default.get("KMSMasterKeyID"),
                        }
                    ]
                    if default
                    else [],
                }
            )
        return {"rule": rules}

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_encryption(Bucket=prior["bucket"])


class LifecycleConfiguration(BucketPart):
    type_name = "aws_s3_bucket_lifecycle_configuration"

    def put(self, planned: State) -> None:
        rules = []
        for rule in planned["rule"]:
            api: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"]}
            filter_ = one(rule.get("filter"))
            if filter_ is not None:
                api_filter: dict[str, Any] = {}
                if isinstance(filter_.get("prefix"), str):
                    api_filter["Prefix"] = filter_["prefix"]
                for name, key in (
                    ("object_size_greater_than", "ObjectSizeGreaterThan"),
                    ("object_size_less_than", "ObjectSizeLessThan"),
                ):
                    if isinstance(filter_.get(name), int | float):
                        api_filter[key] = int(filter_[name])
                tag = one(filter_.get("tag"))
                if tag:
                    api_filter["Tag"] = {"Key": tag["key"], "Value": tag["value"]}
                api["Filter"] = api_filter
            elif isinstance(rule.get("prefix"), str):
                api["Prefix"] = rule["prefix"]
            expiration = one(rule.get("expiration"))
            if expiration:
                api["Expiration"] = drop_none(
                    {
                        "Date": expiration.get("date"),
                        "Days": int(expiration["days"])
                        if isinstance(expiration.get("days"), int | float)
                        else None,
                        "ExpiredObjectDeleteMarker": expiration.get("expired_object_delete_marker")
                        if isinstance(expiration.get("expired_object_delete_marker"), bool)
                        and not expiration.get("days")
                        else None,
                    }
                )
            noncurrent = one(rule.get("noncurrent_version_expiration"))
            if noncurrent:
                api["NoncurrentVersionExpiration"] = drop_none(
                    {
                        "NoncurrentDays": int(noncurrent["noncurrent_days"]),
                        "NewerNoncurrentVersions": noncurrent.get("newer_noncurrent_versions"),
                    }
                )
            abort = one(rule.get("abort_incomplete_multipart_upload"))
            if abort and abort.get("days_after_initiation") is not None:
                api["AbortIncompleteMultipartUpload"] = {
                    "DaysAfterInitiation": int(abort["days_after_initiation"])
                }
            transitions = [
                drop_none(
                    {
                        "Date": t.get("date"),
                        "Days": int(t["days"]) if isinstance(t.get("days"), int | float) else None,
                        "StorageClass": t["storage_class"],
                    }
                )
                for t in rule.get("transition") or []
            ]
            if transitions:
                api["Transitions"] = transitions
            rules.append(api)
        self.client("s3").put_bucket_lifecycle_configuration(
            Bucket=planned["bucket"], LifecycleConfiguration={"Rules": rules}
        )

    def get(self, bucket: str) -> Any:
        return missing(
            lambda: self.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket),
            "NoSuchLifecycleConfiguration",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        rules = []
        for rule in found.get("Rules", []):
            filter_ = rule.get("Filter")
            expiration = rule.get("Expiration")
            noncurrent = rule.get("NoncurrentVersionExpiration")
            abort = rule.get("AbortIncompleteMultipartUpload")
            rules.append(
                {
                    "id": rule.get("ID"),
                    "status": rule.get("Status"),
                    "prefix": rule.get("Prefix", ""),
                    "filter": [
                        {
                            "prefix": filter_.get("Prefix", ""),
                            "object_size_greater_than": filter_.get("ObjectSizeGreaterThan"),
                            "object_size_less_than": filter_.get("ObjectSizeLessThan"),
                            "tag": [
                                {"key": filter_["Tag"]["Key"], "value": filter_["Tag"]["Value"]}
                            ]
                            if filter_.get("Tag")
                            else [],
                            "and": [],
                        }
                    ]
                    if filter_ is not None
                    else [],
                    "expiration": [
                        {
                            "date": timestamp(expiration.get("Date")),
                            "days": expiration.get("Days", 0),
                            "expired_object_delete_marker": bool(
                                expiration.get("ExpiredObjectDeleteMarker", False)
                            ),
                        }
                    ]
                    if expiration
                    else [],
                    "noncurrent_version_expiration": [
                        {
                            "noncurrent_days": noncurrent.get("NoncurrentDays"),
                            "newer_noncurrent_versions": noncurrent.get("NewerNoncurrentVersions"),
                        }
                    ]
                    if noncurrent
                    else [],
                    "abort_incomplete_multipart_upload": [
                        {"days_after_initiation": abort.get("DaysAfterInitiation")}
                    ]
                    if abort
                    else [],
                    "transition": [
                        {
                            "date": timestamp(t.get("Date")),
                            "days": t.get("Days"),
                            "storage_class": t["StorageClass"],
                        }
                        for t in rule.get("Transitions") or []
                    ],
                    "noncurrent_version_transition": [],
                }
            )
        return {
            "rule": rules,
            "transition_default_minimum_object_size": found.get(
                "TransitionDefaultMinimumObjectSize", "all_storage_classes_128K"
            ),
        }

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_lifecycle(Bucket=prior["bucket"])


class BucketPolicy(BucketPart):
    type_name = "aws_s3_bucket_policy"

    def put(self, planned: State) -> None:
        self.client("s3").put_bucket_policy(Bucket=planned["bucket"], Policy=planned["policy"])

    def get(self, bucket: str) -> Any:
        return missing(
            lambda: self.client("s3").get_bucket_policy(Bucket=bucket),
            "NoSuchBucketPolicy",
            "NoSuchBucket",
        )

    def from_api(self, state: State, found: Any) -> State:
        return {"policy": policy_as_written(state, "policy", found["Policy"])}

    def delete(self, prior: State) -> None:
        self.client("s3").delete_bucket_policy(Bucket=prior["bucket"])
