"""Our own compact schema of the Boundary API responses the emulator returns.

For each definition of Boundary's ``internal/gen/controller.swagger.json`` (v0.21.0) we
implement, the JSON fields we return and their JSON types, checked by hand against that
document (the file itself is third-party data and is not committed). ``SCHEMA[name]`` maps
field -> type, where a type is one of "string", "integer", "boolean", "object", "array"
or the name of another definition (an object), or ``[name]`` (an array of those objects).
"""

from __future__ import annotations

from typing import Any

R = "controller.api.resources."
SCOPE_INFO = R + "scopes.v1.ScopeInfo"

_COMMON = {
    "id": "string",
    "scope": SCOPE_INFO,
    "name": "string",
    "description": "string",
    "created_time": "string",
    "updated_time": "string",
    "version": "integer",
    "authorized_actions": "array",
}

SCHEMA: dict[str, dict[str, Any]] = {
    SCOPE_INFO: {"id": "string", "type": "string", "name": "string", "description": "string",
                 "parent_scope_id": "string"},
    R + "scopes.v1.Scope": {**_COMMON, "scope_id": "string", "type": "string",
                            "primary_auth_method_id": "string",
                            "authorized_collection_actions": "object"},
    R + "authmethods.v1.AuthMethod": {**_COMMON, "scope_id": "string", "type": "string",
                                      "attributes": "object",
                                      "authorized_collection_actions": "object"},
    R + "accounts.v1.Account": {**_COMMON, "type": "string", "auth_method_id": "string",
                                "attributes": "object"},
    R + "authtokens.v1.AuthToken": {
        "id": "string", "scope_id": "string", "scope": SCOPE_INFO, "token": "string",
        "user_id": "string", "auth_method_id": "string", "account_id": "string",
        "created_time": "string", "updated_time": "string",
        "approximate_last_used_time": "string", "expiration_time": "string",
        "authorized_actions": "array",
    },
    R + "users.v1.User": {**_COMMON, "scope_id": "string", "account_ids": "array",
                          "accounts": "array", "login_name": "string",
                          "primary_account_id": "string"},
    R + "groups.v1.Group": {**_COMMON, "scope_id": "string", "member_ids": "array",
                            "members": [R + "groups.v1.Member"]},
    R + "groups.v1.Member": {"id": "string", "scope_id": "string"},
    R + "roles.v1.Role": {**_COMMON, "scope_id": "string", "grant_scope_ids": "array",
                          "principal_ids": "array", "principals": [R + "roles.v1.Principal"],
                          "grant_strings": "array", "grants": [R + "roles.v1.Grant"]},
    R + "roles.v1.Principal": {"id": "string", "type": "string", "scope_id": "string"},
    R + "roles.v1.Grant": {"raw": "string", "canonical": "string",
                           "json": R + "roles.v1.GrantJson"},
    R + "roles.v1.GrantJson": {"id": "string", "ids": "array", "type": "string",
                               "actions": "array"},
    R + "hostcatalogs.v1.HostCatalog": {**_COMMON, "scope_id": "string", "type": "string",
                                        "authorized_collection_actions": "object"},
    R + "hostsets.v1.HostSet": {**_COMMON, "host_catalog_id": "string", "type": "string",
                                "host_ids": "array"},
    R + "hosts.v1.Host": {**_COMMON, "host_catalog_id": "string", "type": "string",
                          "host_set_ids": "array", "attributes": "object"},
    R + "targets.v1.Target": {
        **_COMMON, "scope_id": "string", "type": "string", "address": "string",
        "host_source_ids": "array", "host_sources": [R + "targets.v1.HostSource"],
        "session_max_seconds": "integer", "session_connection_limit": "integer",
        "worker_filter": "string", "egress_worker_filter": "string",
        "ingress_worker_filter": "string", "brokered_credential_source_ids": "array",
        "brokered_credential_sources": [R + "targets.v1.CredentialSource"],
        "attributes": "object",
    },
    R + "targets.v1.HostSource": {"id": "string", "host_catalog_id": "string"},
    R + "targets.v1.CredentialSource": {"id": "string", "name": "string",
                                        "description": "string",
                                        "credential_store_id": "string", "type": "string",
                                        "credential_type": "string"},
    R + "targets.v1.SessionAuthorization": {
        "session_id": "string", "target_id": "string", "scope": SCOPE_INFO,
        "created_time": "string", "user_id": "string", "host_set_id": "string",
        "host_id": "string", "type": "string", "authorization_token": "string",
        "connection_limit": "integer", "endpoint": "string", "endpoint_port": "integer",
        "expiration": "string", "credentials": [R + "targets.v1.SessionCredential"],
        "session_recording_id": "string",
    },
    R + "targets.v1.SessionCredential": {"credential_source": R + "targets.v1.CredentialSource",
                                         "secret": R + "targets.v1.SessionSecret",
                                         "credential": "object"},
    R + "targets.v1.SessionSecret": {"raw": "string", "decoded": "object"},
    R + "credentialstores.v1.CredentialStore": {**_COMMON, "scope_id": "string",
                                                "type": "string", "attributes": "object",
                                                "authorized_collection_actions": "object"},
    R + "credentiallibraries.v1.CredentialLibrary": {**_COMMON, "credential_store_id": "string",
                                                     "type": "string", "attributes": "object",
                                                     "credential_type": "string"},
    R + "storagebuckets.v1.StorageBucket": {
        **_COMMON, "scope_id": "string", "plugin_id": "string",
        "plugin": R + "plugins.v1.PluginInfo", "bucket_name": "string",
        "bucket_prefix": "string", "type": "string", "attributes": "object",
        "secrets_hmac": "string", "worker_filter": "string",
    },
    R + "plugins.v1.PluginInfo": {"id": "string", "name": "string", "description": "string"},
    R + "sessions.v1.Session": {
        "id": "string", "target_id": "string", "scope": SCOPE_INFO, "created_time": "string",
        "updated_time": "string", "version": "integer", "type": "string",
        "expiration_time": "string", "auth_token_id": "string", "user_id": "string",
        "host_set_id": "string", "host_id": "string", "scope_id": "string",
        "endpoint": "string", "states": [R + "sessions.v1.SessionState"], "status": "string",
        "termination_reason": "string", "authorized_actions": "array",
        "connections": [R + "sessions.v1.Connection"],
    },
    R + "sessions.v1.SessionState": {"status": "string", "start_time": "string",
                                     "end_time": "string"},
    R + "sessions.v1.Connection": {"client_tcp_address": "string", "client_tcp_port": "integer",
                                   "endpoint_tcp_address": "string",
                                   "endpoint_tcp_port": "integer", "bytes_up": "string",
                                   "bytes_down": "string", "closed_reason": "string"},
    R + "sessionrecordings.v1.SessionRecording": {
        "id": "string", "scope": SCOPE_INFO, "session_id": "string",
        "storage_bucket_id": "string", "bytes_up": "string", "bytes_down": "string",
        "created_time": "string", "updated_time": "string", "start_time": "string",
        "end_time": "string", "duration": "string", "type": "string", "state": "string",
        "error_details": "string", "mime_types": "array", "endpoint": "string",
        "connection_recordings": [R + "sessionrecordings.v1.ConnectionRecording"],
        "create_time_values": "object", "authorized_actions": "array",
    },
    R + "sessionrecordings.v1.ConnectionRecording": {
        "id": "string", "bytes_up": "string", "bytes_down": "string", "start_time": "string",
        "end_time": "string", "duration": "string", "mime_types": "array",
    },
    "controller.api.v1.Error": {"kind": "string", "op": "string", "message": "string",
                                "details": "controller.api.v1.ErrorDetails"},
    "controller.api.v1.ErrorDetails": {"request_fields": ["controller.api.v1.FieldError"],
                                       "wrapped_errors": "array"},
    "controller.api.v1.FieldError": {"name": "string", "description": "string"},
    "controller.api.services.v1.AuthenticateResponse": {"type": "string",
                                                        "attributes": "object",
                                                        "command": "string"},
}  # fmt: skip

#: list responses: controller.api.services.v1.List<Kind>Response (same fields for each)
LIST_RESPONSE = {"items": "array", "response_type": "string", "list_token": "string",
                 "sort_by": "string", "sort_dir": "string", "removed_ids": "array",
                 "est_item_count": "integer"}  # fmt: skip

#: collection path -> the definition of its items
COLLECTIONS = {
    "scopes": R + "scopes.v1.Scope",
    "auth-methods": R + "authmethods.v1.AuthMethod",
    "accounts": R + "accounts.v1.Account",
    "auth-tokens": R + "authtokens.v1.AuthToken",
    "users": R + "users.v1.User",
    "groups": R + "groups.v1.Group",
    "roles": R + "roles.v1.Role",
    "host-catalogs": R + "hostcatalogs.v1.HostCatalog",
    "host-sets": R + "hostsets.v1.HostSet",
    "hosts": R + "hosts.v1.Host",
    "targets": R + "targets.v1.Target",
    "credential-stores": R + "credentialstores.v1.CredentialStore",
    "credential-libraries": R + "credentiallibraries.v1.CredentialLibrary",
    "storage-buckets": R + "storagebuckets.v1.StorageBucket",
    "sessions": R + "sessions.v1.Session",
    "session-recordings": R + "sessionrecordings.v1.SessionRecording",
}

_PY = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}


def validate(value: Any, definition: str, path: str = "$") -> list[str]:
    """Problems of ``value`` against ``SCHEMA[definition]``: unknown fields, wrong types."""
    fields = SCHEMA.get(definition, LIST_RESPONSE)
    if not isinstance(value, dict):
        return [f"{path}: expected an object for {definition}"]
    problems = []
    for key, item in value.items():
        if key not in fields:
            problems.append(f"{path}.{key}: not a field of {definition}")
            continue
        problems += _check(item, fields[key], f"{path}.{key}")
    return problems


def _check(item: Any, typ: Any, path: str) -> list[str]:
    if isinstance(typ, list):
        if not isinstance(item, list):
            return [f"{path}: expected an array"]
        return [p for i, v in enumerate(item) for p in validate(v, typ[0], f"{path}[{i}]")]
    if typ in SCHEMA:
        return validate(item, typ, path)
    expected = _PY[typ]
    ok = isinstance(item, expected) and not (expected is int and isinstance(item, bool))
    return [] if ok else [f"{path}: expected {typ}, got {type(item).__name__}"]
