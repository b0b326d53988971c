"""What the EC2 resources share: tags on create and update, ARNs, unique names.

EC2 takes tags at creation (``TagSpecifications``) and changes them with ``CreateTags`` /
``DeleteTags``; every ``Describe*`` answer carries them, so a read gets them for free.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from soa_sdk.sandbox.providers.aws.base import AwsResource
from soa_sdk.sandbox.providers.aws.common import tag_dict, tag_list
from soa_sdk.sandbox.providers.framework import State

_counter = itertools.count(1)


def prefixed_unique_id(prefix: str) -> str:
    """The name the real provider makes from a ``name_prefix`` (its ``id.PrefixedUniqueId``:
    a UTC timestamp to the millisecond and a counter, 26 characters after the prefix)."""
    now = time.time()
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}"
    return f"{prefix}{stamp}{next(_counter):09d}"


def name_from(planned: State) -> tuple[str, str | None]:
    """(name, name_prefix) for a create: the name given, else one made from the prefix."""
    if isinstance(planned.get("name"), str):
        return planned["name"], None
    prefix = planned.get("name_prefix")
    prefix = prefix if isinstance(prefix, str) else "terraform-"
    return prefixed_unique_id(prefix), prefix


def name_prefix_of(state: State) -> str | None:
    """``name_prefix`` as the state has it (the API does not keep it)."""
    prefix = state.get("name_prefix")
    return prefix if isinstance(prefix, str) else None


class Ec2Resource(AwsResource):
    """An EC2 resource: tagged at creation, its tags read from its ``Describe*`` answer."""

    tagged = True
    resource_type = ""  # TagSpecifications' ResourceType: vpc, subnet, ...

    def tag_specifications(self, planned: State) -> list[dict[str, Any]]:
        tags = planned.get("tags_all") or {}
        if not tags or not self.resource_type:
            return []
        return [{"ResourceType": self.resource_type, "Tags": tag_list(tags)}]

    def update_tags(self, resource_id: str, prior: State, planned: State) -> None:
        ec2 = self.client("ec2")
        old, new = prior.get("tags_all") or {}, planned.get("tags_all") or {}
        removed = [{"Key": k} for k in old if k not in new]
        if removed:
            ec2.delete_tags(Resources=[resource_id], Tags=removed)
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        if changed:
            ec2.create_tags(Resources=[resource_id], Tags=tag_list(changed))

    def tagged_state(self, state: State, found: dict[str, Any]) -> State:
        return self.with_tags(state, tag_dict(found.get("Tags")))

    def ec2_arn(self, kind: str, resource_id: str) -> str:
        provider = self.provider
        return f"arn:aws:ec2:{provider.region}:{provider.account_id}:{kind}/{resource_id}"

    def update(self, prior: State, planned: State, config: State) -> State:
        """Tags only (the types with arguments to change in place override this)."""
        self.update_tags(prior["id"], prior, planned)
        return self.read(planned) or {}
