"""``consul_admin_partition``: an admin partition (``resource_consul_admin_partition.go``).

Create ``PUT /v1/partition``, read ``GET /v1/partition/:name`` (gone on 404), update
``PUT /v1/partition/:name`` (the description; the name forces a new partition), delete
``DELETE /v1/partition/:name``. The id is the name; import by name.
"""

from __future__ import annotations

from typing import Any

from soa_sdk.sandbox.providers.framework import Resource, State


class AdminPartition(Resource):
    type_name = "consul_admin_partition"

    @property
    def consul(self) -> Any:
        return self.provider.consul

    def _body(self, planned: State) -> dict[str, Any]:
        return {
            "Name": planned["name"],
            "Description": planned.get("description") or "",
            "DisableGossip": bool(planned.get("disable_gossip")),
        }

    def create(self, planned: State, config: State) -> State:
        self.consul.put("/v1/partition", self._body(planned))
        return self.read({**planned, "id": planned["name"]}) or {}

    def update(self, prior: State, planned: State, config: State) -> State:
        self.consul.put(f"/v1/partition/{planned['name']}", self._body(planned))
        return self.read(planned) or {}

    def read(self, state: State) -> State | None:
        name = state.get("id") or state.get("name")
        partition = self.consul.get(f"/v1/partition/{name}")
        if partition is None:
            return None
        return {
            "id": partition["Name"],
            "name": partition["Name"],
            "description": partition.get("Description") or None,
            "disable_gossip": bool(partition.get("DisableGossip")),
        }

    def delete(self, prior: State) -> None:
        self.consul.delete(f"/v1/partition/{prior['name']}")

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id})
