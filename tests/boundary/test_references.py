"""Delete follows the references the records' types declare: every field that holds another
resource's id says what a delete does to it, and the store's write path undoes a failed
write whole."""

from __future__ import annotations

import dataclasses

import pytest

from soa_sdk.sandbox.boundary.models import RESOURCE_CLASSES, Group, Scope, User
from soa_sdk.sandbox.boundary.records import references
from soa_sdk.sandbox.boundary.store import Store


@pytest.mark.parametrize("cls", list(RESOURCE_CLASSES.values()), ids=lambda c: c.__name__)
def test_every_id_field_declares_its_reference(cls: type) -> None:
    declared = {rf.name for rf in references(cls)}
    id_fields = {
        f.name
        for f in dataclasses.fields(cls)
        if f.name != "id" and (f.name.endswith("_id") or f.name.endswith("_ids"))
    }
    assert id_fields <= declared, f"{cls.__name__}: no Ref on {sorted(id_fields - declared)}"


def test_delete_cascades_and_removes_from_lists() -> None:
    store = Store()
    with store.write() as w:
        w.put(Scope(id="global", scope_id="global", type="global"))
        w.put(Scope(id="o_1234567890", scope_id="global"))
        w.put(User(id="u_1234567890", scope_id="o_1234567890"))
        w.put(Group(id="g_1234567890", scope_id="global", member_ids=["u_1234567890"]))
    with store.write() as w:
        w.delete(store.resources["o_1234567890"])
    assert set(store.resources) == {"global", "g_1234567890"}
    group = store.resources["g_1234567890"]
    assert isinstance(group, Group) and group.member_ids == []


def test_a_failed_write_is_undone_and_stamps_nothing() -> None:
    store = Store()
    with store.write() as w:
        w.put(Scope(id="global", scope_id="global", type="global"))
    scope = store.resources["global"]
    with pytest.raises(RuntimeError), store.write() as w:
        w.touch(scope)
        w.put(User(id="u_1234567890", scope_id="global"))
        raise RuntimeError("boom")
    assert set(store.resources) == {"global"} and scope.version == 1
    with store.write() as w, store.write() as inner:
        inner.touch(scope)
        w.touch(scope)
    assert scope.version == 2  # one stamp for the outermost write
