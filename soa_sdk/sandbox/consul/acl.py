"""Consul ACL rules: a parser for the HCL (and JSON) rules subset, and an authorizer.

Rules look like Consul's::

    service_prefix "" { policy = "read" }
    service "web" { policy = "write"  intentions = "write" }
    key_prefix "app/" { policy = "list" }
    node_prefix "" { policy = "read" }
    agent_prefix "" { policy = "read" }
    operator = "read"
    acl = "write"
    mesh = "write"
    peering = "read"
    partition "runtime-ecs" { service_prefix "" { policy = "read" } }

Resolution follows ``acl/policy_authorizer.go``: an exact rule beats the longest matching prefix
rule; among policies merged into one token, ``deny`` beats everything, then the highest level
(``write`` > ``list`` > ``read``). ``mesh`` and ``peering`` fall back to ``operator``; a service
``read``/``write`` rule implies ``intentions = "read"`` on it.

Namespaces as in Consul Community Edition: ``namespace``/``namespace_prefix`` blocks are
accepted and grant nothing (CE's policy decoder has no such fields), so
``namespace "team-a" { service_prefix "" { policy = "write" } }`` grants no service at all.

A token's authorizer merges its policies with those of its roles and with the rules of its
service, node and templated identities (:meth:`.state.acl.ACLState._authorizer_for`; roles,
auth methods and binding rules live in :mod:`.state.acl_auth`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

LEVELS = {"deny": 0, "read": 1, "list": 2, "write": 3}
NAMED = ("service", "node", "key", "agent", "session", "query", "event")
GLOBAL = ("operator", "acl", "mesh", "peering", "keyring")


class RulesError(ValueError):
    """Rules that do not parse; Consul answers ``Failed to parse ACL rules: ...``."""


# ---------------------------------------------------------------- a tiny HCL subset parser

_HCL_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<punct>[{}\[\]=,])
  | (?P<word>[A-Za-z0-9_\-.]+)
    """,
    re.VERBOSE | re.DOTALL,
)


def _hcl_tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    i = 0
    while i < len(text):
        m = _HCL_TOKEN.match(text, i)
        if not m:
            line = text.count("\n", 0, i) + 1
            raise RulesError(f"At {line}: illegal char {text[i]!r}")
        if m.lastgroup != "ws":
            out.append((m.lastgroup or "", m.group(), i))
        i = m.end()
    return out


def parse_hcl(text: str) -> dict[str, Any]:
    """Parse ``ident = value`` and ``ident "label"... { body }`` into nested dicts.

    A labelled block ``service "web" { ... }`` becomes ``{"service": {"web": {...}}}``.
    """
    toks = _hcl_tokens(text)
    pos = 0

    def err(msg: str) -> RulesError:
        at = toks[pos][2] if pos < len(toks) else len(text)
        return RulesError(f"At {text.count(chr(10), 0, at) + 1}: {msg}")

    def value() -> Any:
        nonlocal pos
        if pos >= len(toks):
            raise err("expected a value")
        kind, tok, _ = toks[pos]
        pos += 1
        if kind == "str":
            return json.loads(tok)
        if kind == "word":
            if tok in ("true", "false"):
                return tok == "true"
            return tok
        if tok == "[":
            items = []
            while pos < len(toks) and toks[pos][1] != "]":
                items.append(value())
                if pos < len(toks) and toks[pos][1] == ",":
                    pos += 1
            pos += 1
            return items
        raise err(f"unexpected {tok!r}")

    def body(closing: bool) -> dict[str, Any]:
        nonlocal pos
        out: dict[str, Any] = {}
        while pos < len(toks):
            kind, tok, _ = toks[pos]
            if tok == "}":
                if not closing:
                    raise err("unexpected '}'")
                pos += 1
                return out
            if kind not in ("word", "str"):
                raise err(f"expected an identifier, got {tok!r}")
            key = json.loads(tok) if kind == "str" else tok
            pos += 1
            if pos < len(toks) and toks[pos][1] == "=":
                pos += 1
                out[key] = value()
                continue
            labels = []
            while pos < len(toks) and toks[pos][0] == "str":
                labels.append(json.loads(toks[pos][1]))
                pos += 1
            if pos >= len(toks) or toks[pos][1] != "{":
                raise err(f"expected '=' or '{{' after {key!r}")
            pos += 1
            inner = body(True)
            target = out.setdefault(key, {})
            for label in labels[:-1]:
                target = target.setdefault(label, {})
            if labels:
                target[labels[-1]] = inner
            else:
                target.update(inner)
            if pos < len(toks) and toks[pos][1] == ",":
                pos += 1
        if closing:
            raise err("unclosed block")
        return out

    return body(False)


# ---------------------------------------------------------------- compiled rules


@dataclass
class _Named:
    exact: dict[str, str] = field(default_factory=dict)
    prefix: dict[str, str] = field(default_factory=dict)


@dataclass
class Rules:
    """The rules of one policy (or a merge of several), for one partition scope."""

    named: dict[str, _Named] = field(default_factory=lambda: {r: _Named() for r in NAMED})
    intentions: _Named = field(default_factory=_Named)
    globals: dict[str, str] = field(default_factory=dict)
    partitions: dict[str, Rules] = field(default_factory=dict)
    partition_prefixes: dict[str, Rules] = field(default_factory=dict)
    """``partition_prefix "<p>" { ... }``: every partition whose name starts with ``p``
    (the longest prefix wins; a ``partition`` block naming one exactly wins over them)."""


def _check_level(level: Any, where: str, allow_list: bool = False) -> str:
    if not isinstance(level, str) or level not in LEVELS or (level == "list" and not allow_list):
        raise RulesError(f"Invalid {where} policy: {level!r}")
    return level


def _merge_level(old: str | None, new: str) -> str:
    if old is None:
        return new
    if "deny" in (old, new):
        return "deny"
    return old if LEVELS[old] >= LEVELS[new] else new


def _fill(rules: Rules, doc: dict[str, Any]) -> None:
    for key, val in doc.items():
        base = key.removesuffix("_prefix")
        is_prefix = key.endswith("_prefix")
        if key in GLOBAL:
            rules.globals[key] = _merge_level(rules.globals.get(key), _check_level(val, key))
        elif base in NAMED:
            if not isinstance(val, dict):
                raise RulesError(f"Invalid {key} block")
            table = rules.named[base]
            target = table.prefix if is_prefix else table.exact
            for name, block in val.items():
                if not isinstance(block, dict) or (
                    "policy" not in block and "intentions" not in block
                ):
                    raise RulesError(f'Invalid {key} "{name}": a policy is required')
                if "policy" in block:
                    level = _check_level(block["policy"], key, allow_list=base == "key")
                    target[name] = _merge_level(target.get(name), level)
                if base == "service":
                    itable = rules.intentions.prefix if is_prefix else rules.intentions.exact
                    if "intentions" in block:
                        ilevel = _check_level(block["intentions"], "intentions")
                    elif block.get("policy") in ("read", "write"):
                        ilevel = "read"
                    else:
                        continue
                    itable[name] = _merge_level(itable.get(name), ilevel)
        elif key in ("partition", "partition_prefix"):
            scopes = rules.partitions if key == "partition" else rules.partition_prefixes
            for pname, block in (val or {}).items():
                sub = scopes.setdefault(pname, Rules())
                _fill(sub, block)
        elif key in ("namespace", "namespace_prefix"):
            # Consul CE decodes rules into a policy with no namespace fields (acl/policy_ce.go
            # decodeRules: hcl.Decode ignores them): the block is accepted and grants nothing.
            continue
        else:
            raise RulesError(f"Unknown rule resource {key!r}")


def parse_rules(text: str) -> Rules:
    """Parse policy rules in HCL or JSON; raise :class:`RulesError` when they are invalid."""
    text = text or ""
    stripped = text.strip()
    doc: Any
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise RulesError(str(exc)) from exc
    else:
        doc = parse_hcl(text)
    if not isinstance(doc, dict):
        raise RulesError("rules must be an object")
    rules = Rules()
    _fill(rules, doc)
    return rules


def merge(all_rules: list[Rules]) -> Rules:
    """Merge the rules of several policies into one (deny wins, then the highest level)."""
    out = Rules()
    for rules in all_rules:
        for res, table in rules.named.items():
            for src, dst in (
                (table.exact, out.named[res].exact),
                (table.prefix, out.named[res].prefix),
            ):
                for name, level in src.items():
                    dst[name] = _merge_level(dst.get(name), level)
        for src, dst in (
            (rules.intentions.exact, out.intentions.exact),
            (rules.intentions.prefix, out.intentions.prefix),
        ):
            for name, level in src.items():
                dst[name] = _merge_level(dst.get(name), level)
        for key, level in rules.globals.items():
            out.globals[key] = _merge_level(out.globals.get(key), level)
        for pname, sub in rules.partitions.items():
            out.partitions[pname] = merge([out.partitions.get(pname, Rules()), sub])
        for pname, sub in rules.partition_prefixes.items():
            out.partition_prefixes[pname] = merge([out.partition_prefixes.get(pname, Rules()), sub])
    return out


def service_identity_rules(service: str) -> Rules:
    """What a token's ``ServiceIdentities`` entry grants (Consul's synthetic policy)."""
    return parse_rules(
        f'service "{service}" {{ policy = "write" }}\n'
        f'service "{service}-sidecar-proxy" {{ policy = "write" }}\n'
        'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }\n'
    )


def node_identity_rules(node: str) -> Rules:
    """What a token's ``NodeIdentities`` entry grants."""
    return parse_rules(
        f'node "{node}" {{ policy = "write" }}\nservice_prefix "" {{ policy = "read" }}\n'
    )


def _lookup(table: _Named, name: str) -> str | None:
    if name in table.exact:
        return table.exact[name]
    best: str | None = None
    best_len = -1
    for prefix, level in table.prefix.items():
        if name.startswith(prefix) and len(prefix) > best_len:
            best, best_len = level, len(prefix)
    return best


class Authorizer:
    """Answers ``allowed(resource, level, name, partition)`` for one token.

    ``management`` tokens may do anything; others get their rules, then the default policy
    (``deny`` when ACLs are on with default-deny). ``home_partition`` is where the token lives:
    its top-level rules apply there, ``partition "x" { ... }`` blocks elsewhere.
    """

    def __init__(
        self,
        accessor_id: str,
        rules: Rules | None,
        management: bool = False,
        default_allow: bool = False,
        home_partition: str = "default",
    ) -> None:
        self.accessor_id = accessor_id
        self.rules = rules or Rules()
        self.management = management
        self.default_allow = default_allow
        self.home_partition = home_partition

    def _scope(self, partition: str | None) -> Rules | None:
        if partition in (None, "", self.home_partition):
            return self.rules
        name = partition or ""
        if name in self.rules.partitions:
            return self.rules.partitions[name]
        prefixes = [p for p in self.rules.partition_prefixes if name.startswith(p)]
        return self.rules.partition_prefixes[max(prefixes, key=len)] if prefixes else None

    def level(self, resource: str, name: str = "", partition: str | None = None) -> str:
        """The effective level (``deny``/``read``/``list``/``write``) on one resource."""
        if self.management:
            return "write"
        default = "write" if self.default_allow else "deny"
        scope = self._scope(partition)
        if scope is None:
            return default
        found: str | None
        if resource == "intentions":
            found = _lookup(scope.intentions, name)
        elif resource in NAMED:
            found = _lookup(scope.named[resource], name)
        else:
            found = scope.globals.get(resource)
            if found is None and resource in ("mesh", "peering"):
                found = scope.globals.get("operator")
        return found if found is not None else default

    def allowed(
        self, resource: str, level: str, name: str = "", partition: str | None = None
    ) -> bool:
        have = self.level(resource, name, partition)
        if have == "deny":
            return False
        if resource == "key" and level == "list":
            return have in ("list", "write")
        return LEVELS[have] >= LEVELS[level] and not (level == "read" and have == "deny")
