"""Vault credential stores and their generic credential libraries (brokered credentials).

Not implemented: static credential stores and credentials, SSH certificate libraries,
LDAP libraries, injected application credentials, ``ca_cert`` and client certificates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from . import brokering
from .crud import COMMON, Crud, check_fields, require_type, set_common
from .exceptions import InvalidArgument
from .records import Resource, hmac_of, new_id, ref
from .store import Store

_STORE_ATTRS = ("address", "token", "namespace", "ca_cert", "tls_server_name",
                "tls_skip_verify", "worker_filter")  # fmt: skip
_LIB_ATTRS = ("path", "http_method", "http_request_body")


@dataclass(kw_only=True)
class CredentialStore(Resource):
    TYPE = "credential-store"
    PREFIX = "csvlt"
    COLLECTION = "credential-stores"
    NAME = "Credential store"
    SCOPES = ("project",)
    CHILD_COLLECTIONS: ClassVar[dict[str, str]] = {"credential-libraries": "credential-library"}
    address: str
    token: str = field(repr=False)
    namespace: str = ""
    tls_skip_verify: bool = False
    tls_server_name: str = ""
    worker_filter: str = ""

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "scope_id": self.scope_id,
            "type": "vault",
            "attributes": {
                "address": self.address,
                "namespace": self.namespace,
                "tls_skip_verify": self.tls_skip_verify,
                "tls_server_name": self.tls_server_name,
                "worker_filter": self.worker_filter,
                # Boundary never returns the token, only its HMAC and status.
                "token_hmac": hmac_of(self.token),
                "token_status": "current",
            },
        }


@dataclass(kw_only=True)
class CredentialLibrary(Resource):
    TYPE = "credential-library"
    PREFIX = "clvlt"
    COLLECTION = "credential-libraries"
    NAME = "Credential library"
    PARENT_FIELD = "credential_store_id"
    PARENT_CLASS = CredentialStore
    credential_store_id: Annotated[str, ref("credential-store", on_delete="cascade")]
    path: str
    http_method: str = "GET"
    http_request_body: str = ""
    credential_type: str = ""

    def fields(self, store: Store) -> dict[str, Any]:
        return {
            "credential_store_id": self.credential_store_id,
            "type": "vault-generic",
            "credential_type": self.credential_type,
            "attributes": {
                "path": self.path,
                "http_method": self.http_method,
                "http_request_body": self.http_request_body,
            },
        }


class CredentialOps(Crud):
    def _build_credentialstore(self, body: dict[str, Any], scope_id: str) -> CredentialStore:
        attrs = check_fields(body, COMMON, _STORE_ATTRS)
        require_type(body, "vault")
        bad = {f"attributes.{k}": "Field required for creating a vault credential store."
               for k in ("address", "token") if not attrs.get(k)}  # fmt: skip
        if bad:
            raise InvalidArgument(request_fields=bad)
        store = CredentialStore(id=new_id("csvlt"), scope_id=scope_id,
                                address=str(attrs["address"]).rstrip("/"),
                                token=str(attrs["token"]))  # fmt: skip
        set_common(store, body)
        _set_store_attrs(store, attrs)
        return store

    def _update_credentialstore(self, res: CredentialStore, body: dict[str, Any]) -> None:
        attrs = check_fields(body, COMMON, _STORE_ATTRS)
        set_common(res, body)
        if attrs.get("address"):
            res.address = str(attrs["address"]).rstrip("/")
        if attrs.get("token"):
            res.token = str(attrs["token"])
        if attrs:
            _set_store_attrs(res, attrs)

    def _build_credentiallibrary(self, body: dict[str, Any], scope_id: str) -> CredentialLibrary:
        attrs = check_fields(body, (*COMMON, "credential_store_id", "credential_type"),
                             _LIB_ATTRS)  # fmt: skip
        if body.get("type", "vault-generic") not in ("vault-generic", "vault"):
            raise InvalidArgument(request_fields={"type": "Only 'vault-generic' is supported."})
        if not attrs.get("path"):
            raise InvalidArgument(request_fields={"attributes.path": "This is a required field."})
        lib = CredentialLibrary(id=new_id("clvlt"), scope_id=scope_id,
                                credential_store_id=body["credential_store_id"],
                                path=str(attrs["path"]))  # fmt: skip
        set_common(lib, body)
        _set_lib_attrs(lib, body, attrs)
        return lib

    def _update_credentiallibrary(self, res: CredentialLibrary, body: dict[str, Any]) -> None:
        attrs = check_fields(body, (*COMMON, "credential_type"), _LIB_ATTRS)
        set_common(res, body)
        _set_lib_attrs(res, body, attrs)


def _set_store_attrs(store: CredentialStore, attrs: dict[str, Any]) -> None:
    for k in ("namespace", "tls_server_name", "worker_filter"):
        if k in attrs:
            setattr(store, k, attrs[k] or "")
    if "tls_skip_verify" in attrs:
        store.tls_skip_verify = bool(attrs["tls_skip_verify"])
    # Boundary looks the token up in Vault before accepting it.
    try:
        brokering.lookup_self(store.address, store.token, store.namespace,
                              verify=not store.tls_skip_verify)  # fmt: skip
    except brokering.VaultError as err:
        raise InvalidArgument(
            f"Unable to create credential store: vault token lookup failed: {err}"
        ) from None


def _set_lib_attrs(lib: CredentialLibrary, body: dict[str, Any], attrs: dict[str, Any]) -> None:
    if "credential_type" in body:
        ctype = body["credential_type"] or ""
        if ctype not in ("", "username_password"):
            raise InvalidArgument(request_fields={
                "credential_type": "Only 'username_password' is supported."})  # fmt: skip
        lib.credential_type = ctype
    if attrs.get("path"):
        lib.path = str(attrs["path"])
    if "http_method" in attrs:
        method = str(attrs["http_method"] or "GET").upper()
        if method not in ("GET", "POST"):
            raise InvalidArgument(request_fields={
                "attributes.http_method": "Must be GET or POST."})  # fmt: skip
        lib.http_method = method
    if "http_request_body" in attrs:
        if attrs["http_request_body"] and lib.http_method != "POST":
            raise InvalidArgument(request_fields={
                "attributes.http_request_body": "Only valid with POST."})  # fmt: skip
        lib.http_request_body = attrs["http_request_body"] or ""
