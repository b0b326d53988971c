"""A check of Boundary grant strings before they are sent, so that a typo is one clear sentence
instead of a 400 from ``POST /v1/roles/<id>:set-grants`` after half a role was written.

The grammar is Boundary's (https://developer.hashicorp.com/boundary/docs/concepts/security/
permissions): ``;``-separated ``key=value`` segments (or the same as a JSON object) with the
keys ``ids`` (or the older ``id``), ``type``, ``actions`` and ``output_fields``. Checked here:
the segments' shape, known keys and actions, that the grant names ids (a wildcard id with a
type) and has actions or output fields, and ``*`` alone among ids and among actions. Left to
the controller: which actions apply to which resource type, and the ids' prefixes.
"""

from __future__ import annotations

import json

KEYS = frozenset({"id", "ids", "type", "actions", "output_fields"})

#: Boundary's action names (``action.Type`` in the controller), ``*`` for all.
_ACTION_NAMES = """* create list read update delete no-op authenticate deauthenticate
authorize-session cancel read:self cancel:self delete:self change-password set-password
change-state add-grants set-grants remove-grants add-principals set-principals
remove-principals add-grant-scopes set-grant-scopes remove-grant-scopes add-members
set-members remove-members add-accounts set-accounts remove-accounts add-hosts set-hosts
remove-hosts add-host-sets set-host-sets remove-host-sets add-host-sources set-host-sources
remove-host-sources add-credential-sources set-credential-sources remove-credential-sources
add-credential-libraries set-credential-libraries remove-credential-libraries
create:worker-led create:controller-led add-worker-tags set-worker-tags remove-worker-tags
reinitialize-certificate-authority read-certificate-authority list-keys rotate-keys
list-key-version-destruction-jobs destroy-key-version download attach-storage-policy
detach-storage-policy reapply-storage-policy monthly-active-users list-resolvable-aliases"""
ACTIONS = frozenset(_ACTION_NAMES.split())


class MalformedGrant(ValueError):
    """A grant string Boundary would refuse; the message says why."""


def check_grant(text: str) -> None:
    """Raise :class:`MalformedGrant` when ``text`` is not a well-formed grant string."""
    if not text:
        raise MalformedGrant("missing grant string")
    fields = _json(text) if text.startswith("{") else _segments(text)
    unknown = sorted(set(fields) - KEYS)
    if unknown:
        raise MalformedGrant(f'unknown key "{unknown[0]}"')
    if "id" in fields and "ids" in fields:
        raise MalformedGrant('it has both "id" and "ids"')
    ids = fields.get("ids") or ([fields["id"]] if "id" in fields else [])
    if not ids:
        raise MalformedGrant('no "ids"')
    if "*" in ids and len(ids) > 1:
        raise MalformedGrant('"ids" mixes the wildcard with other values')
    if "*" in ids and not fields.get("type"):
        raise MalformedGrant("a wildcard id needs a type")
    actions = fields.get("actions") or []
    for action in actions:
        if action not in ACTIONS:
            raise MalformedGrant(f'unknown action "{action}"')
    if "*" in actions and len(set(actions)) > 1:
        raise MalformedGrant('"*" cannot be combined with other actions')
    if not actions and "output_fields" not in fields:
        raise MalformedGrant("missing actions")


def _segments(text: str) -> dict[str, list[str] | str]:
    fields: dict[str, list[str] | str] = {}
    for segment in text.split(";"):
        key, equals, value = segment.partition("=")
        if not equals or "=" in value or not key:
            raise MalformedGrant(f'segment "{segment}" is not key=value')
        if not value and key != "output_fields":
            raise MalformedGrant(f'segment "{segment}" has no value')
        if key in ("ids", "actions", "output_fields"):
            items = value.split(",") if value else []
            if "" in items:
                raise MalformedGrant(f'segment "{segment}" has an empty value')
            fields[key] = items
        else:
            fields[key] = value
    return fields


def _json(text: str) -> dict[str, list[str] | str]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise MalformedGrant(f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise MalformedGrant("not a JSON object")
    fields: dict[str, list[str] | str] = {}
    for key, value in document.items():
        strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if strings or isinstance(value, str):
            fields[key] = value
        else:
            raise MalformedGrant(f'"{key}" must be a string or a list of strings')
    return fields
