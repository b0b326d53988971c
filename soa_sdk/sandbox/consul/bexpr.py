"""go-bexpr filter expressions, the ``?filter=`` language of Consul's HTTP API.

Grammar (as go-bexpr): ``or``/``and``/``not`` with parentheses over match expressions::

    Selector == Value        Selector != Value
    Selector is empty        Selector is not empty
    Value in Selector        Value not in Selector
    Selector contains Value  Selector not contains Value
    Selector matches "re"    Selector not matches "re"

Selectors are dotted paths into the JSON a endpoint returns (``Service.Meta.version``,
``ServiceMeta.version``, ``Service.Tags``), with ``Meta["key.with.dots"]`` for awkward keys.
Values are double-quoted or back-quoted strings, numbers, ``true``/``false`` or barewords.
A selector through a list of objects (``Checks.Status``) matches when any element matches.

Selectors are checked, as go-bexpr checks them against the Go type an endpoint filters
(``Selector "Foo" is not valid``), against a :data:`Schema` of the endpoint's document
(:func:`schema_of`); maps (``Meta``, ``TaggedAddresses``) and free-form blocks (``Proxy``,
``Definition``) accept any key below them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[Any], bool]

#: what a selector may select: ``None`` a value, :data:`ANY` anything below (a map, a
#: free-form block), a dict a struct's fields, ``[dict]`` a list of structs
Schema = dict[str, Any]
ANY = "any"
#: document fields that are maps (any key) rather than structs
MAP_FIELDS = frozenset(
    {"Meta", "NodeMeta", "ServiceMeta", "TaggedAddresses", "ServiceTaggedAddresses", "Config"}
)


def schema_of(doc: dict[str, Any], **extra: Any) -> Schema:
    """The schema of a fully populated sample document (``extra``: fields it lacks)."""
    out: Schema = {}
    for key, val in doc.items():
        if key in MAP_FIELDS or (isinstance(val, dict) and not val):
            out[key] = ANY
        elif isinstance(val, dict):
            out[key] = schema_of(val)
        elif isinstance(val, list) and val and isinstance(val[0], dict):
            out[key] = [schema_of(val[0])]
        else:
            out[key] = None
    out.update(extra)
    return out


def _valid_selector(schema: Any, path: tuple[str, ...]) -> bool:
    node = schema
    for part in path:
        if node == ANY:
            return True
        if isinstance(node, list):
            node = node[0]
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


class BexprError(ValueError):
    """A syntax error; ``str()`` is ``<line>:<col> (<offset>): <message>`` like go-bexpr's."""


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<op>==|!=|\(|\)|\[|\]|\.)
  | (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?(?![\w]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-/]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # op | str | num | word | end
    text: str
    pos: int


def _tokenize(expr: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(expr):
        m = _TOKEN_RE.match(expr, i)
        if not m:
            raise BexprError(f"1:{i + 1} ({i}): no match found, unexpected {expr[i]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), i))
        i = m.end()
    toks.append(_Tok("end", "", len(expr)))
    return toks


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return re.sub(r"\\(.)", r"\1", text[1:-1])


_MISSING = object()


def _select(obj: Any, path: tuple[str, ...]) -> Any:
    """Walk ``path``; a list of objects fans out (returns a list of the selected values)."""
    cur = obj
    for i, part in enumerate(path):
        if isinstance(cur, dict):
            cur = cur.get(part, _MISSING)
            if cur is _MISSING:
                return _MISSING
        elif isinstance(cur, list) and cur and all(isinstance(x, dict) for x in cur):
            rest = path[i:]
            return _Fanout([_select(x, rest) for x in cur])
        else:
            return _MISSING
    return cur


class _Fanout(list):
    """Values selected through a list of objects: a match holds if it holds for any."""


def _coerce_equal(actual: Any, expected: str | float | bool) -> bool:
    if actual is _MISSING or actual is None:
        return expected == ""
    if isinstance(actual, bool):
        return str(actual).lower() == str(expected).lower()
    if isinstance(actual, (int, float)):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(actual, str):
        return actual == (expected if isinstance(expected, str) else _fmt(expected))
    return False


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_empty(actual: Any) -> bool:
    return actual is _MISSING or actual is None or (hasattr(actual, "__len__") and not actual)


def _contains(container: Any, value: Any) -> bool:
    sval = value if isinstance(value, str) else _fmt(value)
    if isinstance(container, dict):
        return sval in container
    if isinstance(container, (list, tuple)):
        return any(_coerce_equal(x, value) for x in container)
    if isinstance(container, str):
        return sval in container
    return False


def _any(actual: Any, test: Callable[[Any], bool]) -> bool:
    if isinstance(actual, _Fanout):
        return any(_any(x, test) for x in actual)
    return test(actual)


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokenize(expr)
        self.i = 0
        self.selectors: list[tuple[str, ...]] = []

    def peek(self, offset: int = 0) -> _Tok:
        return self.toks[min(self.i + offset, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, tok: _Tok, expected: str) -> BexprError:
        found = "end of input" if tok.kind == "end" else repr(tok.text)
        return BexprError(
            f"1:{tok.pos + 1} ({tok.pos}): no match found, expected {expected}, got {found}"
        )

    def is_word(self, word: str, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok.kind == "word" and tok.text == word

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            raise BexprError("1:1 (0): no match found, expected an expression")
        pred = self.parse_or()
        if self.peek().kind != "end":
            raise self.error(self.peek(), '"and", "or" or end of input')
        return pred

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.is_word("or"):
            self.next()
            right = self.parse_and()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while self.is_word("and"):
            self.next()
            right = self.parse_not()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def parse_not(self) -> Predicate:
        if self.is_word("not") and not self._not_is_infix():
            self.next()
            inner = self.parse_not()
            return lambda o: not inner(o)
        return self.parse_primary()

    def _not_is_infix(self) -> bool:
        # "not" as a prefix operator is followed by "(" , "not" or the start of a match
        nxt = self.peek(1)
        return nxt.kind == "word" and nxt.text in ("in", "contains", "matches")

    def parse_primary(self) -> Predicate:
        tok = self.peek()
        if tok.kind == "op" and tok.text == "(":
            self.next()
            inner = self.parse_or()
            close = self.next()
            if close.text != ")":
                raise self.error(close, '")"')
            return inner
        return self.parse_match()

    def parse_value(self) -> str | float | bool:
        tok = self.next()
        if tok.kind == "str":
            return _unquote(tok.text)
        if tok.kind == "num":
            return float(tok.text)
        if tok.kind == "word":
            if tok.text in ("true", "false"):
                return tok.text == "true"
            return tok.text
        raise self.error(tok, "a value")

    def parse_selector(self) -> tuple[str, ...]:
        tok = self.next()
        if tok.kind != "word":
            raise self.error(tok, "a selector")
        parts = [tok.text]
        while True:
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text == ".":
                self.next()
                word = self.next()
                if word.kind not in ("word", "num"):
                    raise self.error(word, "a selector field")
                parts.append(word.text)
            elif nxt.kind == "op" and nxt.text == "[":
                self.next()
                key = self.next()
                if key.kind != "str":
                    raise self.error(key, "a quoted map key")
                parts.append(_unquote(key.text))
                close = self.next()
                if close.text != "]":
                    raise self.error(close, '"]"')
            else:
                self.selectors.append(tuple(parts))
                return tuple(parts)

    def parse_match(self) -> Predicate:
        tok = self.peek()
        # "Value in Selector" / "Value not in Selector": the value comes first
        if tok.kind in ("str", "num") or (
            tok.kind == "word" and (self.is_word("in", 1) or self._is_not_in(1))
        ):
            value = self.parse_value()
            negate = False
            if self.is_word("not"):
                self.next()
                negate = True
            if not self.is_word("in"):
                raise self.error(self.peek(), '"in" or "not in"')
            self.next()
            sel = self.parse_selector()
            return self._wrap(
                negate, lambda o: _any(_select(o, sel), lambda a: _contains(a, value))
            )
        sel = self.parse_selector()
        op = self.next()
        if op.kind == "op" and op.text in ("==", "!="):
            value = self.parse_value()
            eq = op.text == "=="
            return lambda o: (
                _any(_select(o, sel), lambda a: _coerce_equal(a, value))
                if eq
                else not _any(_select(o, sel), lambda a: _coerce_equal(a, value))
            )
        if op.kind == "word" and op.text == "is":
            negate = False
            if self.is_word("not"):
                self.next()
                negate = True
            empty = self.next()
            if not (empty.kind == "word" and empty.text == "empty"):
                raise self.error(empty, '"empty"')
            return self._wrap(negate, lambda o: _any(_select(o, sel), _is_empty))
        negate = False
        if op.kind == "word" and op.text == "not":
            negate = True
            op = self.next()
        if op.kind == "word" and op.text == "contains":
            value = self.parse_value()
            return self._wrap(
                negate, lambda o: _any(_select(o, sel), lambda a: _contains(a, value))
            )
        if op.kind == "word" and op.text == "matches":
            pattern = self.parse_value()
            try:
                rx = re.compile(str(pattern))
            except re.error as exc:
                raise BexprError(f"1:{op.pos + 1} ({op.pos}): invalid regex: {exc}") from exc
            return self._wrap(
                negate,
                lambda o: _any(
                    _select(o, sel), lambda a: isinstance(a, str) and rx.search(a) is not None
                ),
            )
        raise self.error(op, '"==", "!=", "is", "contains", "matches" or "not"')

    def _is_not_in(self, offset: int) -> bool:
        return self.is_word("not", offset) and self.is_word("in", offset + 1)

    @staticmethod
    def _wrap(negate: bool, pred: Predicate) -> Predicate:
        return (lambda o: not pred(o)) if negate else pred


def compile_filter(expression: str, schema: Schema | None = None) -> Callable[[dict], bool]:
    """Compile a go-bexpr ``expression`` into a predicate over one JSON object.

    Raises :class:`BexprError` on bad syntax or, with a ``schema``, on a selector the
    document has no field for; the HTTP layer turns it into Consul's 400
    ``Failed to create boolean expression evaluator: ...``.
    """
    parser = _Parser(expression)
    pred = parser.parse()
    if schema is not None:
        for path in parser.selectors:
            if not _valid_selector(schema, path):
                raise BexprError(f'Selector "{".".join(path)}" is not valid')
    return pred


def apply_filter(expression: str | None, items: list[dict]) -> list[dict]:
    """Keep the items ``expression`` matches (all of them when it is empty)."""
    if not expression:
        return items
    pred = compile_filter(expression)
    return [item for item in items if pred(item)]
