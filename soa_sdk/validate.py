"""One validation layer for the arguments of every public SDK method.

Each helper checks one value and returns it (converted where that is obvious: a folder as a
:class:`~pathlib.Path`, a number as a ``float``), or raises
:class:`~soa_sdk.errors.ValidationError` with one sentence that says what is wrong and what
to pass instead. Methods call these helpers at their top, before any API call, so a rejected
call changes nothing.

The rules, once for the whole SDK:

- names match their rule in full (:meth:`Name.check`, ``re.fullmatch``: a trailing newline
  is not a name);
- a whole number is an ``int`` and never a ``bool`` (``True`` is not a count), a number is an
  ``int`` or a ``float`` and never a ``bool``; both are checked against their range;
- a text is a ``str``; a list of names is a list or tuple of them, never one string;
- a folder is a ``str`` or a path to a directory that exists;
- a choice is one of the values listed.

The naming rules of the lab's resources (accounts, OUs, runtimes, services, versions...) are
defined here, and read by the specification loaders (:mod:`soa_sdk.org_spec`,
:mod:`soa_sdk.tf.lab_spec`) and the steps alike, so a name is judged the same way everywhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import TypeVar

from soa_sdk.errors import ValidationError

T = TypeVar("T")


@dataclass(frozen=True)
class Name:
    """A naming rule: what is named, the pattern the whole name must match, the rule in words."""

    what: str
    pattern: str
    rule: str

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None

    def check(self, value: object, what: str | None = None) -> str:
        """``value`` if it is a valid name; a :class:`ValidationError` saying the rule if not."""
        if not self.matches(value):
            raise ValidationError(f"{value!r} is not a valid {what or self.what}: {self.rule}.")
        assert isinstance(value, str)
        return value


ACCOUNT = Name(
    "account name",
    r"[a-z][a-z0-9-]{1,48}[a-z0-9]",
    "use 3 to 50 lowercase letters, digits and hyphens, starting with a letter (it is also "
    "a folder name)",
)
EMAIL = Name(
    "email address",
    r"(?=.{6,64}\Z)[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "AWS needs a unique address of 6 to 64 characters, such as aws+team@example.com",
)
OU = Name(
    "OU name",
    r"[A-Za-z0-9][A-Za-z0-9 _-]{0,127}",
    "use up to 128 letters, digits, spaces, '_' and '-', starting with a letter or digit",
)
RUNTIME = Name(
    "runtime name",
    r"runtime-[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?",
    "use 'runtime-' followed by up to 24 lowercase letters, digits and hyphens "
    "(e.g. runtime-eks-west)",
)
SERVICE = Name(
    "service name",
    r"[a-z][a-z0-9-]{0,30}[a-z0-9]",
    "use 2 to 32 lowercase letters, digits and hyphens, starting with a letter",
)
PARTITION = Name("Consul admin partition name", SERVICE.pattern, SERVICE.rule)
DECLARED_VERSION = Name("version", r"v[0-9]+", "declare versions named v1, v2, ...")
RELEASE_VERSION = Name(
    "version",
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}",
    "use 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. v2)",
)
REGION = Name("AWS region name", r"[a-z]{2}(-gov)?-[a-z]+-[0-9]", "use one such as us-west-2")
PRINCIPAL = Name(
    "name",
    r"[a-z][a-z0-9._-]{0,62}",
    "use up to 63 lowercase letters, digits, '.', '_' and '-', starting with a letter",
)
IMAGE = Name(
    "image name",
    r"[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?",
    "use one such as nicholasjackson/fake-service:v0.26.2",
)
VAULT_NAME = Name(
    "name",
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
    "use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
)


def _kind(value: object) -> str:
    return type(value).__name__


def text(value: object, what: str, *, empty: bool = False) -> str:
    """``value`` if it is a string (and, unless ``empty``, not blank)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {value!r} (a {_kind(value)}).")
    if not empty and not value.strip():
        raise ValidationError(f"{what} must not be empty.")
    return value


def whole(
    value: object, what: str, low: int | None = None, high: int | None = None, unit: str = ""
) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) from ``low`` to ``high`` (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be a whole number, not {value!r} (a {_kind(value)}).")
    _in_range(value, what, low, high, unit)
    return value


def number(
    value: object,
    what: str,
    low: float | None = None,
    high: float | None = None,
    unit: str = "",
    *,
    above: float | None = None,
) -> float:
    """``value`` as a float if it is an ``int`` or ``float`` (not a ``bool``) within
    ``[low, high]`` (and greater than ``above`` when given)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValidationError(f"{what} must be a number, not {value!r} (a {_kind(value)}).")
    result = float(value)
    if result != result:  # NaN
        raise ValidationError(f"{what} must be a number, not NaN.")
    if above is not None and not result > above:
        raise ValidationError(f"{what} must be more than {above:g}{unit}; {value!r} is not.")
    _in_range(result, what, low, high, unit)
    return result


def _in_range(value: float, what: str, low: float | None, high: float | None, unit: str) -> None:
    if (low is None or value >= low) and (high is None or value <= high):
        return
    if low is not None and high is not None:
        span = f"from {low:g} to {high:g}{unit}"
    elif low is not None:
        span = f"at least {low:g}{unit}"
    else:
        span = f"at most {high:g}{unit}"
    raise ValidationError(f"{what} must be {span}; {value:g} is out of range.")


def url_path(value: object, what: str = "path") -> str:
    """``value`` if it is an HTTP request path (a string starting with '/')."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValidationError(f"The {what} must start with '/', not {value!r}.")
    return value


def flag(value: object, what: str, *, none: bool = False) -> bool | None:
    """``value`` if it is ``True`` or ``False`` (or ``None`` when ``none``)."""
    if value is None and none:
        return None
    if not isinstance(value, bool):
        allowed = "True, False or None" if none else "True or False"
        raise ValidationError(f"{what} must be {allowed}, not {value!r}.")
    return value


def choice(value: T, what: str, choices: Collection[T]) -> T:
    """``value`` if it is one of ``choices``; the error lists them."""
    try:
        found = value in choices
    except TypeError:  # an unhashable value asked of a set
        found = False
    if not found or isinstance(value, bool) != any(isinstance(c, bool) for c in choices):
        listed = ", ".join(map(str, choices))
        raise ValidationError(f"{what} must be one of {listed}, not {value!r}.")
    return value


def names(
    value: object, what: str, rule: Name | None = None, *, empty: bool = False
) -> tuple[str, ...]:
    """``value`` as a tuple if it is a list or tuple of strings (each valid by ``rule``)."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValidationError(f"{what} must be a list of strings, not {value!r}.")
    if not value and not empty:
        raise ValidationError(f"{what} must be a non-empty list.")
    for item in value:
        if rule is not None:
            rule.check(item)
        else:
            text(item, f"Each of {what}")
    return tuple(value)


def folder(value: object, what: str) -> Path:
    """``value`` as a :class:`Path` if it names a directory that exists."""
    if not isinstance(value, str | os.PathLike):
        raise ValidationError(f"{what} must be a folder (a str or a Path), not {value!r}.")
    path = Path(value)
    if not path.is_dir():
        state = "is not a folder" if path.exists() else "does not exist"
        raise ValidationError(f"{what} {path} {state}; pass an existing folder.")
    return path


def instance(value: object, kind: type[T], hint: str) -> T:
    """``value`` if it is a ``kind``; ``hint`` says where a learner gets one."""
    if not isinstance(value, kind):
        raise ValidationError(f"Pass {hint}, not {value!r} (a {_kind(value)}).")
    return value


def one_of_names(value: object, what: str, known: Iterable[str], of: str = "") -> str:
    """``value`` if it is one of the ``known`` names (which the error lists); ``of`` says
    whose they are (``one_of_names(name, "service", names, of="runtime-ecs")``)."""
    listed = list(known)
    if not isinstance(value, str) or value not in listed:
        whose = f" of {of}" if of else ""
        raise ValidationError(
            f"There is no {what}{whose} named {value!r}; the {what}s{whose} are: "
            f"{', '.join(listed) or 'none'}."
        )
    return value
