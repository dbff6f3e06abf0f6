"""One conversion from raw option values to a run kind's typed config, for every way options arrive: CLI strings,
Launch-page widgets, sweep TOML values. Each field's type (int, float, str, bool) decides the conversion; a
field with ``metadata["choices"]`` takes one of a fixed set (CLI ``choices=``, a selectbox on the page). All
callers get the same messages for the same mistakes.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import Field


def choice(values, help: str, default=None, **metadata):
    """A config field with a fixed set of values (the first is the default unless given)."""
    values = tuple(values)
    return dataclasses.field(default=values[0] if default is None else default,
                             metadata={"help": help, "choices": values, **metadata})


def field_type(config_cls, f: Field) -> type:
    """The field's Python type (annotations are strings under ``from __future__ import annotations``)."""
    hint = typing.get_type_hints(config_cls).get(f.name, str)
    return hint if hint in (int, float, str, bool) else str


def convert(config_cls, f: Field, raw):
    """One raw value (str from the CLI or a form, int/float/bool/str from TOML) as the field's type."""
    kind = field_type(config_cls, f)
    try:
        if kind is bool:
            value = raw if isinstance(raw, bool) else {"true": True, "false": False, "1": True, "0": False}[
                str(raw).strip().lower()]
        elif kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = int(raw) if not isinstance(raw, str) else int(raw.strip())
        elif kind is float:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
        else:
            value = raw if isinstance(raw, str) else str(raw)
    except (ValueError, KeyError, TypeError):
        what = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "text")
        raise ValueError(f"option {f.name} must be {what}, got {raw!r}") from None
    allowed = f.metadata.get("choices")
    if allowed and value not in allowed:
        raise ValueError(f"option {f.name} must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


def build(config_cls, options: dict, kind_name: str = ""):
    """The typed config from raw options; ValueError naming the option and the fix."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for {kind_name or config_cls.__name__}; "
                         f"options: {', '.join(sorted(fields))}")
    return config_cls(**{name: convert(config_cls, fields[name], raw) for name, raw in options.items()})


def check_choices(config):
    """For configs made directly (tests, code): the same fixed-set check as ``convert``."""
    for f in dataclasses.fields(config):
        allowed = f.metadata.get("choices")
        if allowed and getattr(config, f.name) not in allowed:
            raise ValueError(f"option {f.name} must be one of {', '.join(map(str, allowed))}, "
                             f"got {getattr(config, f.name)!r}")


def changed(config_cls, values: dict) -> dict:
    """Options that differ from their defaults, after conversion (a form's "0.05" is the default 0.05)."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    return {k: v for k, v in values.items() if convert(config_cls, fields[k], v) != fields[k].default}


def device_field():
    """The ``device`` option of every kind that computes with a model. Kept out of a run's identity (config hash,
    "done before" in sweeps and recipes, the stored config) at its default, so runs made before the option
    existed keep their ids; an explicit device is part of it (a grid over devices makes one run per device)."""
    return dataclasses.field(default="auto", metadata={
        "help": "auto (DASHBOARD_DEVICE, itself auto: CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps",
        "identity": "unless-default"})


def identity(config) -> dict:
    """The config as stored and hashed: every field, but those marked ``identity: unless-default`` only when
    they differ from their default."""
    return identity_of(type(config), dataclasses.asdict(config))


def identity_of(config_cls, values: dict) -> dict:
    """``identity`` of a stored config dict (a run.json's, which may spell such a default out)."""
    out = dict(values)
    for f in dataclasses.fields(config_cls):
        if f.metadata.get("identity") == "unless-default" and f.name in out and out[f.name] == f.default:
            del out[f.name]
    return out
