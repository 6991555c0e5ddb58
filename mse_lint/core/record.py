"""Plain value classes for the modules every run imports, in place of ``dataclasses``.

``@dataclass`` writes and compiles each class's methods when the module is imported: about a
millisecond a class, plus ~10 ms to import ``dataclasses`` (and ``inspect``) at all. A one-file
pre-commit run imports some twenty such classes before it reads the file. A class here writes
its ``__init__`` by hand (compiled once, into the .pyc) and takes the rest from these bases,
which behave like the dataclass options they replace:

* :class:`Frozen` -- ``@dataclass(frozen=True)``: ``__eq__`` and ``__hash__`` over the fields,
  assignment raises :class:`FrozenInstanceError` (an ``AttributeError``);
* :class:`Mutable` -- ``@dataclass``: ``__eq__`` over the fields, unhashable.

Both have the dataclass ``__repr__`` (``Name(field=value, ...)``; names in ``_hidden`` left
out) and pickle like a dataclass (the fields live in the instance ``__dict__``). The fields
are the class's annotated names in declaration order (base classes first), read once when the
class is made. :func:`replace` is ``dataclasses.replace`` for both these and dataclasses.
tests/test_record.py compares every such class with the dataclass it replaced.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


# How a Frozen class's __init__ sets its fields (its own __setattr__ refuses): every module
# that defines one imports it as ``_set``.
set_field = object.__setattr__


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a :class:`Frozen` instance."""


class Record:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()  # not shown by __repr__ (repr=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, kind in vars(klass).get("__annotations__", {}).items():
                if "ClassVar" not in str(kind) and name not in names:
                    names.append(name)
        cls._fields = tuple(names)

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._fields if name not in self._hidden
        )
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented


class Frozen(Record):
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._values())


class Mutable(Record):
    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # like a dataclass with eq and not frozen


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` (a :class:`Record` or a dataclass) with ``changes`` applied."""
    if not isinstance(obj, Record):
        import dataclasses

        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    values = {name: getattr(obj, name) for name in obj._fields}
    values.update(changes)
    return type(obj)(**values)
