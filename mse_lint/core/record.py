"""Plain value classes, in place of ``dataclasses``, for the modules every run imports.

A record declares its fields as annotations, with defaults where it has them, and nothing else::

    class Span(Frozen):
        line: int
        col: int
        end_line: int = 0

The base writes the ``__init__`` when the class is made (one small function compiled per class,
about 30 microseconds, where ``@dataclass`` costs about a millisecond a class plus ~10 ms to import
``dataclasses`` and ``inspect``; a one-file pre-commit run makes some fifty such classes). A class
may still write its own ``__init__`` where a measurement shows the generated one is too slow or
where construction does more than store fields (set frozen fields with :data:`set_field`). The
bases behave like the dataclass options they replace:

* :class:`Frozen` -- ``@dataclass(frozen=True)``: ``__eq__`` and ``__hash__`` over the fields,
  assignment raises :class:`FrozenInstanceError` (an ``AttributeError``);
* :class:`Mutable` -- ``@dataclass``: ``__eq__`` over the fields, unhashable.

Both have the dataclass ``__repr__`` (``Name(field=value, ...)``; names in ``_hidden`` left
out) and pickle like a dataclass (the fields live in the instance ``__dict__``). The fields
are the class's annotated names in declaration order (base classes first), read once when the
class is made; ``ClassVar`` annotations are not fields. A default must be immutable (``None``,
a number, a string, a tuple, a frozenset...); a field whose default is a fresh list or dict takes
``field(default_factory=list)``. mypy checks constructor calls through
``typing.dataclass_transform``.
:func:`replace` is ``dataclasses.replace`` for both these and dataclasses.
tests/test_record.py compares every such class with the dataclass it replaced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_kwargs: Any) -> Callable[[T], T]:
        return lambda cls: cls


T = TypeVar("T")


# How a Frozen class's __init__ sets its fields (its own __setattr__ refuses): every module
# that defines one imports it as ``_set``.
set_field = object.__setattr__


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a :class:`Frozen` instance."""


class _Factory:
    """A field default made fresh for each instance: ``items: list[str] = field(list)``."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """The default of a field that each instance gets a new one of, as with ``dataclasses``:
    ``items: list[str] = field(default_factory=list)``."""
    return _Factory(default_factory)  # type: ignore[return-value]


_MUTABLE_DEFAULTS = (list, dict, set, bytearray)


def _write_init(cls: type, fields: tuple[str, ...], frozen: bool) -> None:
    """Compile the ``__init__`` that stores ``fields`` in order, defaults taken from the class."""
    params: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {"_set": object.__setattr__}
    store = "_set(self, {name!r}, {value})" if frozen else "self.{name} = {value}"
    for name in fields:
        default = getattr(cls, name, _NO_DEFAULT)
        if isinstance(default, _Factory):
            env[f"_make_{name}"] = default.make
            params.append(f"{name}=_NOTHING")
            value = f"_make_{name}() if {name} is _NOTHING else {name}"
        elif default is _NO_DEFAULT:
            if any(p.partition("=")[2] for p in params):
                raise TypeError(f"{cls.__qualname__}.{name}: no default, after a field with one")
            params.append(name)
            value = name
        else:
            if isinstance(default, _MUTABLE_DEFAULTS):
                raise TypeError(f"{cls.__qualname__}.{name}: a mutable default (use field())")
            env[f"_default_{name}"] = default
            params.append(f"{name}=_default_{name}")
            value = name
        body.append(store.format(name=name, value=value))
    env["_NOTHING"] = _NO_DEFAULT
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, env)  # our own text, made of the class's field names
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init._generated = True
    cls.__init__ = init  # type: ignore[misc]


_NO_DEFAULT: Any = object()


class Record:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()  # not shown by __repr__ (repr=False)
    _frozen: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            for name, kind in vars(klass).get("__annotations__", {}).items():
                if "ClassVar" not in str(kind) and name not in names:
                    names.append(name)
        cls._fields = tuple(names)
        if cls.__module__ != __name__ and "__init__" not in vars(cls):
            # an __init__ written by hand in a base class is inherited, as with dataclasses
            inherited = cls.__init__
            if inherited is object.__init__ or getattr(inherited, "_generated", False):
                _write_init(cls, cls._fields, cls._frozen)

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


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Frozen(Record):
    __slots__ = ()
    _frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._values())


@dataclass_transform(field_specifiers=(field,))
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
