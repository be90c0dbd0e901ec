"""One registry helper for everything chosen by name: activations, losses, optimizers,
schedules, initialisers and layers.

A :class:`Registry` maps lowercase names (Keras class names for layers) to objects and is the
single list of what exists: config choices, ``--help`` texts, the ``init`` template and
docs/configuration.md all read :meth:`Registry.names`. Adding an optimizer is writing its class
under ``@OPTIMIZERS.register``; nothing else restates the name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from dlcli.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, in registration order.

    Reads like a mapping (``name in registry``, ``registry[name]``, iteration over names);
    :meth:`get` is the validating constructor, not ``Mapping.get``.

    Parameters
    ----------
    kind : str
        What the entries are, for messages: ``"optimizer"``, ``"activation"``, ...
    instantiate : bool
        Whether :meth:`get` calls the entry with the keyword arguments (classes, factories)
        or returns it as it is (activation objects, initialiser functions).
    aliases : mapping, optional
        Other accepted spellings -> registered name (e.g. Keras' long loss names).
    argument : str
        What the keyword arguments are called in messages (``"hyper-parameter"``).
    key : str
        The attribute :meth:`register` takes the name from (``"class_name"`` for layers).
    """

    def __init__(
        self,
        kind: str,
        *,
        instantiate: bool = True,
        aliases: Mapping[str, str] | None = None,
        argument: str = "argument",
        key: str = "name",
    ) -> None:
        self.key = key
        self.kind = kind
        self.instantiate = instantiate
        self.argument = argument
        self.aliases = dict(aliases or {})
        self._entries: dict[str, T] = {}

    # --- filling ----------------------------------------------------------------------
    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@OPTIMIZERS.register()`` names the entry by its ``key`` attribute."""

        def add(entry: T) -> T:
            self.add(name or str(getattr(entry, self.key)), entry)
            return entry

        return add

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name``; a name can be registered once."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = entry

    # --- lookup -----------------------------------------------------------------------
    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order (aliases not included)."""
        return tuple(self._entries)

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (resolving aliases), or :class:`ConfigError`."""
        key = self.aliases.get(name, name)
        if key not in self._entries:
            raise self.unknown(name)
        return key

    def unknown(self, name: object) -> ConfigError:
        """The one message for a name that is not registered."""
        return ConfigError(f"Unknown {self.kind} '{name}'. Expected one of: {', '.join(self._entries)}.")

    def lookup(self, name: str) -> T:
        """The registered entry itself (a class, a function or an object)."""
        return self._entries[self.canonical(name)]

    def get(self, name: str, **kwargs: Any) -> Any:
        """The entry, or for instantiating registries the entry called with ``kwargs``.

        Keyword arguments are checked against the entry's signature first, so a typo names
        the valid arguments instead of failing inside the constructor.
        """
        key = self.canonical(name)
        entry = self._entries[key]
        if not self.instantiate:
            if kwargs:
                raise ConfigError(f"{self.kind} '{key}' takes no arguments, got {', '.join(kwargs)}.")
            return entry
        valid = self.arguments(key)
        unknown = [k for k in kwargs if k not in valid]
        if unknown:
            raise ConfigError(
                f"Unknown {self.argument} '{unknown[0]}' for {self.kind} '{key}'. Expected one of: {', '.join(valid)}."
            )
        return entry(**kwargs)  # type: ignore[operator]

    def arguments(self, name: str) -> tuple[str, ...]:
        """Keyword arguments the entry accepts (for instantiating registries)."""
        entry = self._entries[self.canonical(name)]
        parameters = inspect.signature(entry).parameters.values()  # type: ignore[arg-type]
        return tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    # --- reading like a mapping ---------------------------------------------------------
    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(self._entries.items())

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
