"""One way to declare and check options: every config section is a dataclass deriving from
Options, and it checks itself when it is constructed, whether from TOML or from code.

Each field's type comes from its annotation (an int is not a float's bool, a float accepts an
int); its limits come from `option(...)` (ge, gt, le, lt, choices, pattern); rules that tie
two fields together come from the class's `relations()`. A violation raises OptionError naming
the field, which the TOML loader turns into `file: 'section.key' must be ..., got ...`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emotion_device.errors import UserError


class OptionError(UserError, ValueError):
    """One option is invalid. `name` is its dotted key below the object that was checked."""

    def __init__(self, name: str, expected: str, value: Any) -> None:
        super().__init__(f"'{name}' must be {expected}, got {value!r}")
        self.name, self.expected, self.value = name, expected, value

    def within(self, prefix: str) -> OptionError:
        """The same error with its key qualified by an enclosing section."""
        return OptionError(f"{prefix}.{self.name}" if prefix else self.name, self.expected, self.value)


@dataclass(frozen=True)
class Limits:
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    pattern: str | None = None
    expected: str | None = None  # wording for a pattern

    def violation(self, value: Any) -> str | None:
        """What the value should be, or None when it is fine."""
        if self.choices is not None and value not in self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return self.expected or f"matching {self.pattern}"
        low = (self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
        high = (self.le is None or value <= self.le) and (self.lt is None or value < self.lt)
        if low and high:
            return None
        parts = [f"at least {_num(self.ge)}" if self.ge is not None else "",
                 f"more than {_num(self.gt)}" if self.gt is not None else "",
                 f"at most {_num(self.le)}" if self.le is not None else "",
                 f"less than {_num(self.lt)}" if self.lt is not None else ""]
        return " and ".join(p for p in parts if p)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def option(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
           ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None, choices: Iterable[Any] | None = None, pattern: str | None = None,
           expected: str | None = None, repr: bool = True) -> Any:
    """A dataclass field with limits that Options checks."""
    limits = Limits(ge, gt, le, lt, tuple(choices) if choices is not None else None, pattern, expected)
    return dataclasses.field(default=default, default_factory=default_factory, repr=repr,
                             metadata={"limits": limits})


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    """The resolved annotations of an options class (cached: they never change)."""
    if cls not in _FIELD_TYPES:
        _FIELD_TYPES[cls] = typing.get_type_hints(cls)
    return _FIELD_TYPES[cls]


def type_name(tp: Any) -> str:
    args = typing.get_args(tp)
    if args:
        return " or ".join("none" if t is type(None) else t.__name__ for t in args)
    return tp.__name__


def accepts(tp: Any, value: Any) -> bool:
    """isinstance for the annotations options use, where bool is not an int."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return any(accepts(t, value) for t in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


class Options:
    """Base of every options dataclass: checks types, limits and relations on construction."""

    def __post_init__(self) -> None:
        hints = field_types(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            tp = hints[f.name]
            if not accepts(tp, value):
                raise OptionError(f.name, type_name(tp), value)
            if tp is float and isinstance(value, int):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            limits = f.metadata.get("limits")
            expected = limits.violation(value) if limits is not None and value is not None else None
            if expected:
                raise OptionError(f.name, expected, value)
        for name, ok, expected in self.relations():
            if not ok:
                raise OptionError(name, expected, _lookup(self, name))

    def relations(self) -> Iterable[tuple[str, bool, str]]:
        """(dotted field, holds, what it must be) for rules across fields; none by default."""
        return ()


def _lookup(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj
