"""`dataclass`, as `dataclasses.dataclass` makes it, but made on first use.

`dataclasses.dataclass` writes and compiles `__init__`, `__eq__`, `__repr__`, `__hash__` and, for
a frozen class, `__setattr__` and `__delattr__` for every class when its module is imported:
0.3-0.6 ms a class. sop has about ninety; a `sop run` imports 88 of them and creates 33 (the
other 55 are the events, records and options of what this run does not do: 30 ms of its
start-up, more than `import click`). Here a decorated class stays as written until the first
of:

- an instance is created (`Cls(...)`, or unpickled),
- `dataclasses.fields`, `is_dataclass`, `asdict` or `replace` asks for its fields, a class that
  derives from it is made, or `__match_args__` is read (a `match` on its fields);

then `dataclasses.dataclass` makes it with the same options, in place, once (under a lock: two
threads may create the first instance together). Bases are made before the classes that derive
from them. Everything else is `dataclasses`' own: the same methods, fields and errors
(`FrozenInstanceError`); `inspect.signature` shows the `__init__`'s parameters. What stays is
a `__new__` that passes its arguments on to `__init__` (0.15 us more per instance). mypy sees
`dataclasses.dataclass` itself.

Not for `slots=True` (that makes a new class): such a class is made at once.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any

# what dataclasses sets on a class that code may read before any instance exists; each is a
# stand-in until the class is made
_PENDING = ("__dataclass_fields__", "__dataclass_params__", "__match_args__")
_lock = threading.RLock()
_waiting: dict[type, dict[str, Any]] = {}  # class -> its dataclass options, until made


class _Pending:
    """A class attribute that dataclasses will set: reading it makes the class first."""

    def __init__(self, owner: type, name: str) -> None:
        self.owner = owner
        self.name = name

    def __get__(self, instance: object, cls: type | None = None) -> Any:
        make(self.owner)
        return getattr(self.owner if cls is None else cls, self.name)


class _InitSignature:
    """`inspect.signature` of the class: its `__init__`'s without `self`, as for any dataclass
    (inspect would otherwise show the `__new__` here, which takes anything)."""

    def __get__(self, instance: object, cls: type | None = None) -> Any:
        import inspect

        owner = type(instance) if cls is None else cls
        make(owner)
        signature = inspect.signature(owner.__init__)  # type: ignore[misc]
        return signature.replace(parameters=list(signature.parameters.values())[1:])


_SIGNATURE = _InitSignature()


def _first_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """The `__new__` of a class not made yet: make it (and its bases), then create as usual
    (`type.__call__` looks up the new `__init__` after this returns)."""
    make(cls)
    return object.__new__(cls)


def _made_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """The `__new__` of a class made: `object.__new__`, leaving the arguments to `__init__`."""
    return object.__new__(cls)


def make(cls: type) -> None:
    """Make every waiting class in `cls`'s MRO, bases first. Only a class not made yet calls
    this (its stand-ins do); a thread that comes while another makes it waits for the lock."""
    with _lock:
        for klass in reversed(cls.__mro__):
            options = _waiting.pop(klass, None)
            if options is None:
                continue
            # dataclasses sets `__match_args__` only if the class has none of its own
            delattr(klass, "__match_args__")
            dataclasses.dataclass(klass, **options)
            for name in _PENDING:  # fields and params are set by now; any left is a stand-in
                if isinstance(klass.__dict__.get(name), _Pending):
                    delattr(klass, name)
            # last: until here a new instance waits in `_first_new`. (Deleting `__new__` would
            # not do: CPython keeps the class's slot, and `object.__new__` then refuses the
            # arguments.)
            klass.__new__ = staticmethod(_made_new)  # type: ignore[assignment]


def _lazy(cls: type, options: dict[str, Any]) -> type:
    if options.get("slots") or "__new__" in cls.__dict__:
        return dataclasses.dataclass(cls, **options)
    for name in _PENDING:
        setattr(cls, name, _Pending(cls, name))
    cls.__new__ = staticmethod(_first_new)  # type: ignore[assignment]
    cls.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
    _waiting[cls] = options
    return cls


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:

    def dataclass(cls: type | None = None, /, **options: Any) -> Any:
        """`@dataclass`, `@dataclass(frozen=True, ...)`: as dataclasses', made on first use."""
        if cls is None:
            return lambda klass: _lazy(klass, options)
        return _lazy(cls, options)
