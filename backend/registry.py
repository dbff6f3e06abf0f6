"""The one rule of every registry here (run kinds, importers, executors, ...): a name is registered once."""
from __future__ import annotations


def add(table: dict, name: str, value, what: str):
    """Store ``value`` under ``name`` in ``table`` and return it; a second registration is a bug in the caller."""
    if name in table:
        raise ValueError(f"{what} {name!r} is already registered; pick another name")
    table[name] = value
    return value


def load(ref: str):
    """The object a ``"module:name"`` reference names, imported when first needed (heavy modules stay unloaded
    until a run kind is launched or a step is taken)."""
    import importlib
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)
