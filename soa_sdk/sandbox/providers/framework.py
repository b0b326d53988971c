"""What every local provider shares: planning, applying, reading, importing over tfplugin6.

A provider is a :class:`Provider` with its :class:`~soa_sdk.sandbox.providers.schema.ProviderSchema`
and one :class:`Resource` (or :class:`DataSource`) subclass per type. The subclasses talk to
the sandbox's APIs; this module does what Terraform's SDKs do around them:

- **Plan** (``PlanResourceChange``): Terraform's proposed new state, with each unset argument
  that has a default given its default, each unset computed attribute "known after apply"
  on create (kept from the prior state on update), and ``requires_replace`` naming every
  changed ``force_new`` argument or block (Terraform then plans the create again with no
  prior state).
  A resource may refine the plan (:meth:`Resource.plan`), e.g. ``tags_all``.
- **Apply**: create, update in place, or delete; the new state is the plan with its unknowns
  filled from what the API returned (known planned values are kept, as Terraform requires).
- **Read** is the truth: the resource reads the API and returns what is there, so a change
  made outside Terraform shows as drift; a resource the API no longer has is gone from state.
- **Import**: the resource reads what the id names.
- **UpgradeResourceState**: the stored JSON, shaped to the current schema (schema version 0
  everywhere: no migrations).

Errors a resource raises become Terraform diagnostics naming the resource and the reason.
A create that fails after the remote object came to exist (:meth:`Resource.made`, what
SDKv2's ``d.SetId`` marks) answers with that object's state beside the error, as the real
providers do: Terraform keeps it in state as *tainted* and plans its replacement, so nothing
is left outside state and the next apply converges.
Left out: deferred actions, resource identity (Terraform 1.12's import by identity), moves,
ephemeral and list resources, provider functions, write-only attributes.
"""

from __future__ import annotations

import contextvars
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any, ClassVar

from soa_sdk.sandbox.providers import cty
from soa_sdk.sandbox.providers.cty import UNKNOWN
from soa_sdk.sandbox.providers.protocol import tfplugin6_pb2 as pb
from soa_sdk.sandbox.providers.schema import Block, ProviderSchema, Schema

log = logging.getLogger(__name__)

State = dict[str, Any]

# The state of the object the running create has made so far (Resource.made), per thread.
_MADE: contextvars.ContextVar[State | None] = contextvars.ContextVar("made", default=None)


class ProviderError(Exception):
    """An error to show to the Terraform user: ``summary`` and ``detail``."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail


class Resource:
    """One managed resource type. Subclasses set ``type_name`` and implement CRUD."""

    type_name: ClassVar[str]

    def __init__(self, provider: Provider, schema: Schema) -> None:
        self.provider = provider
        self.schema = schema

    def plan(self, planned: State, prior: State | None, config: State) -> State:
        """Refine the generic plan (computed values the provider knows at plan time)."""
        return planned

    def create(self, planned: State, config: State) -> State:
        raise NotImplementedError

    def made(self, state: State) -> None:
        """Say, inside :meth:`create`, that the remote object exists from here on (``state``
        has its ``id``): should a later call of the create fail, Terraform records the object
        as tainted instead of losing it."""
        _MADE.set(dict(state))

    def read(self, state: State) -> State | None:
        """The resource as the API has it now (``None``: it is gone)."""
        raise NotImplementedError

    def update(self, prior: State, planned: State, config: State) -> State:
        raise ProviderError(f"{self.type_name} cannot be updated in place")

    def delete(self, prior: State) -> None:
        raise NotImplementedError

    def import_state(self, import_id: str) -> State | None:
        return self.read({"id": import_id})


class DataSource:
    type_name: ClassVar[str]

    def __init__(self, provider: Provider, schema: Schema) -> None:
        self.provider = provider
        self.schema = schema

    def read(self, config: State) -> State:
        raise NotImplementedError


def _plan_block(
    block: Block, config: State | None, proposed: State | None, creating: bool
) -> State | None:
    if proposed is None or proposed is UNKNOWN:
        return proposed
    config = config or {}
    planned: State = dict(proposed)
    for name, attribute in block.attributes.items():
        if config.get(name) is not None:
            continue
        if attribute.has_default:
            planned[name] = attribute.default
        elif attribute.computed and (creating or planned.get(name) is None):
            planned[name] = UNKNOWN if creating else planned.get(name)
    for name, nested in block.blocks.items():
        value, wanted = planned.get(name), config.get(name)
        if nested.nesting == "single":
            planned[name] = _plan_block(nested.block, wanted, value, creating)
        elif isinstance(value, list):
            wanted_items = wanted if isinstance(wanted, list) else []
            planned[name] = [
                _plan_block(
                    nested.block,
                    wanted_items[i] if i < len(wanted_items) else None,
                    item,
                    creating,
                )
                for i, item in enumerate(value)
            ]
    return planned


def _fill_unknowns(block: Block, planned: Any, result: Any) -> Any:
    """The planned value with its unknowns replaced by the API's (recursively)."""
    if planned is UNKNOWN:
        return result
    if planned is None or not isinstance(planned, dict):
        return planned
    result = result if isinstance(result, dict) else {}
    out = dict(planned)
    for name in block.attributes:
        if planned.get(name) is UNKNOWN:
            out[name] = result.get(name)
    for name, nested in block.blocks.items():
        value, got = planned.get(name), result.get(name)
        if nested.nesting == "single":
            out[name] = _fill_unknowns(nested.block, value, got)
        elif value is UNKNOWN:
            out[name] = got
        elif isinstance(value, list):
            got_items = got if isinstance(got, list) else []
            out[name] = [
                _fill_unknowns(nested.block, item, got_items[i] if i < len(got_items) else None)
                for i, item in enumerate(value)
            ]
    return out


def _resolved(value: Any) -> Any:
    """``value`` with any unknown left in it made null: after apply, all must be known."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    return value


def _canonical(value: Any) -> str:
    """A nested block's value as text that does not depend on the order of a set."""
    if isinstance(value, list):
        return json.dumps(sorted(_canonical(v) for v in value))
    return json.dumps(value, sort_keys=True, default=str)


def _attribute_path(*names: str) -> pb.AttributePath:
    return pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name=n) for n in names])


def _diagnostic(summary: str, detail: str = "") -> pb.Diagnostic:
    return pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)


class Provider:
    """A provider's protocol servicer: the ``tfplugin6.Provider`` methods, by name."""

    resource_types: ClassVar[list[type[Resource]]] = []
    data_source_types: ClassVar[list[type[DataSource]]] = []

    def __init__(self, schema: ProviderSchema) -> None:
        self.schema = schema
        self.resources = {
            cls.type_name: cls(self, schema.resources[cls.type_name]) for cls in self.resource_types
        }
        self.data_sources = {
            cls.type_name: cls(self, schema.data_sources[cls.type_name])
            for cls in self.data_source_types
        }
        self.config: State = {}
        self._schema_response = schema.to_proto()
        self.on_stop: Callable[[], None] | None = None

    # --- to be overridden -------------------------------------------------------------

    def configure(self, config: State) -> None:
        self.config = config

    # --- helpers ------------------------------------------------------------------------

    def _resource(self, type_name: str) -> Resource:
        try:
            return self.resources[type_name]
        except KeyError:
            raise ProviderError(f"This local provider has no resource type {type_name}") from None

    def _guard(self, response: Any, what: str, call: Callable[[], None]) -> Any:
        try:
            call()
        except ProviderError as error:
            response.diagnostics.append(_diagnostic(f"{what}: {error.summary}", error.detail))
        except Exception as error:  # the API's own errors, named for the user
            log.debug("%s failed:\n%s", what, traceback.format_exc())
            response.diagnostics.append(_diagnostic(f"{what}: {error}", type(error).__name__))
        return response

    # --- tfplugin6.Provider -------------------------------------------------------------

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        return self._schema_response

    def GetMetadata(self, request: Any, context: Any) -> Any:
        return pb.GetMetadata.Response(
            server_capabilities=self._schema_response.server_capabilities,
            resources=[pb.GetMetadata.ResourceMetadata(type_name=n) for n in self.resources],
            data_sources=[
                pb.GetMetadata.DataSourceMetadata(type_name=n) for n in self.data_sources
            ],
        )

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        response = pb.ConfigureProvider.Response()
        return self._guard(
            response, "Configuring the provider", lambda: self.configure(cty.decode(request.config))
        )

    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        response = pb.UpgradeResourceState.Response()

        def upgrade() -> None:
            block = self._resource(request.type_name).schema.block
            raw = json.loads(request.raw_state.json or b"null")
            response.upgraded_state.CopyFrom(cty.encode(block.conform(raw)))

        return self._guard(response, f"Upgrading the state of {request.type_name}", upgrade)

    def ReadResource(self, request: Any, context: Any) -> Any:
        response = pb.ReadResource.Response(private=request.private)

        def read() -> None:
            resource = self._resource(request.type_name)
            current = cty.decode(request.current_state)
            found = resource.read(current) if current is not None else None
            response.new_state.CopyFrom(cty.encode(resource.schema.block.conform(found)))

        return self._guard(response, f"Reading {request.type_name}", read)

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        response = pb.PlanResourceChange.Response(planned_private=request.prior_private)

        def plan() -> None:
            resource = self._resource(request.type_name)
            block = resource.schema.block
            prior = cty.decode(request.prior_state)
            proposed = cty.decode(request.proposed_new_state)
            config = cty.decode(request.config)
            if proposed is None:  # destroy
                response.planned_state.CopyFrom(cty.encode(None))
                return
            planned = _plan_block(block, config, proposed, creating=prior is None)
            planned = resource.plan(planned, prior, config or {})
            if prior is not None:
                for name, attribute in block.attributes.items():
                    if attribute.force_new and planned.get(name) != prior.get(name):
                        response.requires_replace.append(_attribute_path(name))
                for name, nested in block.blocks.items():
                    if nested.force_new and _canonical(planned.get(name)) != _canonical(
                        prior.get(name)
                    ):
                        response.requires_replace.append(_attribute_path(name))
            response.planned_state.CopyFrom(cty.encode(block.conform(planned)))

        return self._guard(response, f"Planning {request.type_name}", plan)

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        response = pb.ApplyResourceChange.Response(private=request.planned_private)

        def apply() -> None:
            resource = self._resource(request.type_name)
            block = resource.schema.block
            prior = cty.decode(request.prior_state)
            planned = cty.decode(request.planned_state)
            config = cty.decode(request.config) or {}
            if planned is None:
                resource.delete(prior)
                response.new_state.CopyFrom(cty.encode(None))
                return
            if prior is None:
                result = self._create(resource, planned, config, response)
            else:
                result = resource.update(prior, planned, config)
            filled = _fill_unknowns(block, planned, block.conform(result))
            new_state = block.conform(_resolved(filled))
            response.new_state.CopyFrom(cty.encode(new_state))

        return self._guard(response, f"Applying {request.type_name}", apply)

    @staticmethod
    def _create(resource: Resource, planned: State, config: State, response: Any) -> State:
        """``resource.create``; when it fails after :meth:`Resource.made`, the response
        carries the made object's state (as read back, else the plan with what ``made``
        gave) and the error goes on to the diagnostics."""
        token = _MADE.set(None)
        try:
            return resource.create(planned, config)
        except Exception:
            made = _MADE.get()
            if made is not None:
                block = resource.schema.block
                try:
                    found = resource.read({**planned, **made})
                except Exception:
                    found = None
                if found is None:
                    found = _fill_unknowns(block, planned, block.conform({**planned, **made}))
                response.new_state.CopyFrom(cty.encode(block.conform(_resolved(found))))
            raise
        finally:
            _MADE.reset(token)

    def ImportResourceState(self, request: Any, context: Any) -> Any:
        response = pb.ImportResourceState.Response()

        def import_state() -> None:
            resource = self._resource(request.type_name)
            found = resource.import_state(request.id)
            if found is None:
                raise ProviderError(
                    f"Cannot import {request.type_name} {request.id!r}: it does not exist"
                )
            response.imported_resources.append(
                pb.ImportResourceState.ImportedResource(
                    type_name=request.type_name,
                    state=cty.encode(resource.schema.block.conform(found)),
                )
            )

        return self._guard(response, f"Importing {request.type_name}", import_state)

    def ReadDataSource(self, request: Any, context: Any) -> Any:
        response = pb.ReadDataSource.Response()

        def read() -> None:
            try:
                source = self.data_sources[request.type_name]
            except KeyError:
                raise ProviderError(f"No data source {request.type_name}") from None
            config = cty.decode(request.config) or {}
            state = source.read(config)
            response.state.CopyFrom(cty.encode(source.schema.block.conform(state)))

        return self._guard(response, f"Reading data source {request.type_name}", read)

    def StopProvider(self, request: Any, context: Any) -> Any:
        return pb.StopProvider.Response()
