"""``consul_config_entry``: one config entry of any kind, its body as ``config_json``.

As ``resource_consul_config_entry.go``: create and update are both ``PUT /v1/config`` of the
entry (``Kind``, ``Name``, ``Namespace``, ``Partition`` set from the arguments over the
decoded ``config_json``), then a read; the id is ``<kind>-<name>``; read is
``GET /v1/config/:kind/:name`` (gone on 404) and ``config_json`` is the API's entry
(:mod:`.config_json`), kept as the state wrote it while both are the same entry, so a plan
shows a change exactly when the real provider's diff suppression would not hide it; delete is
``DELETE /v1/config/:kind/:name``. An ``exported-services`` entry is read in the partition it
names. Import: ``<kind>/<name>`` or ``<partition>/<namespace>/<kind>/<name>``.
"""

from __future__ import annotations

import json
from typing import Any

from soa_sdk.sandbox.providers.consul import config_json
from soa_sdk.sandbox.providers.framework import ProviderError, Resource, State


def _query_partition(state: State) -> str | None:
    """``fixQOptsForConfigEntry``: an exported-services entry's name is its partition."""
    name = state.get("name")
    if state.get("kind") == "exported-services" and name != "default":
        return name
    return state.get("partition")


class ConfigEntry(Resource):
    type_name = "consul_config_entry"

    @property
    def consul(self) -> Any:
        return self.provider.consul

    def _entry(self, planned: State) -> dict[str, Any]:
        try:
            body = json.loads(planned.get("config_json") or "{}")
        except ValueError as error:
            raise ProviderError("failed to unmarshal configMap", str(error)) from None
        if not isinstance(body, dict):
            raise ProviderError("failed to unmarshal configMap", "config_json is not an object")
        body.pop("Status", None)
        body.update(
            Kind=planned["kind"],
            Name=planned["name"],
            Namespace=planned.get("namespace") or "",
            Partition=planned.get("partition") or "",
        )
        return body

    def _path(self, state: State) -> str:
        return f"/v1/config/{state['kind']}/{state['name']}"

    def create(self, planned: State, config: State) -> State:
        self.consul.put(
            "/v1/config",
            self._entry(planned),
            partition=planned.get("partition"),
            namespace=planned.get("namespace"),
        )
        found = self.read({**planned, "id": f"{planned['kind']}-{planned['name']}"})
        if found is None:
            raise ProviderError(
                "failed to read config entry after setting it",
                "This may happen when some attributes have an unexpected value: see Consul's "
                f"documentation of {planned['kind']} config entries.",
            )
        return found

    def update(self, prior: State, planned: State, config: State) -> State:
        return self.create(planned, config)

    def read(self, state: State) -> State | None:
        entry = self.consul.get(
            self._path(state),
            partition=_query_partition(state),
            namespace=state.get("namespace"),
        )
        if entry is None:
            return None
        from_api = config_json.from_api(entry)
        kept = state.get("config_json")
        return {
            **state,
            "id": f"{state['kind']}-{state['name']}",
            "config_json": kept if config_json.same_entry(kept, from_api) else from_api,
        }

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        # The real provider's DiffSuppressFunc: the same entry written differently is no change.
        if prior is not None and config_json.same_entry(
            prior.get("config_json"), planned.get("config_json")
        ):
            planned = {**planned, "config_json": prior.get("config_json")}
        return planned

    def delete(self, prior: State) -> None:
        self.consul.delete(
            self._path(prior), partition=prior.get("partition"), namespace=prior.get("namespace")
        )

    def import_state(self, import_id: str) -> State | None:
        parts = import_id.split("/")
        if len(parts) == 2:
            (kind, name), partition, namespace = parts, None, None
        elif len(parts) == 4:
            partition, namespace, kind, name = parts
        else:
            raise ProviderError(
                'expected path of the form "<kind>/<name>" or '
                '"<partition>/<namespace>/<kind>/<name>"'
            )
        state = {"kind": kind, "name": name, "partition": partition, "namespace": namespace}
        return self.read({**state, "config_json": None})
