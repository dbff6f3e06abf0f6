"""Run pickers that stay usable at 100,000 runs, and a form made from a run kind's config."""
from __future__ import annotations

from typing import Callable

import streamlit as st


# A select box of 100,000 runs is 100,000 options sent to the browser on every rerun: pickers offer at most
# this many (a filter finds the others).
PICK_LIMIT = 300


def labelled(names: dict) -> Callable[[object], str]:
    """A run picker's ``format_func``: the run's label, or the value itself for one that is not (or no longer) a
    run. The browser can send a stale value while the page reruns (a base switched, then a toggle clicked); a
    label of None would crash the widget (protobuf refuses it)."""
    return lambda run_id: names.get(run_id, str(run_id))


def pickable(ids: list[str], names: dict[str, str], key: str, keep=()) -> list[str]:
    """A run picker's options: all ``ids`` up to PICK_LIMIT; beyond that the first PICK_LIMIT matching a text
    filter (in the given order), plus the runs already chosen (``keep``)."""
    if len(ids) <= PICK_LIMIT:
        return ids
    text = st.text_input(f"Find a run among {len(ids):,} (part of its name or id)", key=f"{key}_find").lower()
    matching = [i for i in ids if text in names[i].lower()] if text else ids
    st.caption(f"{min(len(matching), PICK_LIMIT):,} of {len(matching):,} matching runs offered")
    return list(dict.fromkeys([*[k for k in keep if k in names], *matching[:PICK_LIMIT]]))


def config_form(config_cls, key: str, submit: str) -> tuple[bool, dict]:
    """A form made from a run kind's config dataclass, a widget per field: (submitted, the widgets' values)."""
    import dataclasses

    from backend.options import field_type
    values = {}
    with st.form(key):
        for f in dataclasses.fields(config_cls):
            label, help_text, kind_of = f.name.replace("_", " "), f.metadata.get("help"), field_type(config_cls, f)
            if f.metadata.get("choices"):
                allowed = list(f.metadata["choices"])
                values[f.name] = st.selectbox(label, allowed, index=allowed.index(f.default), help=help_text)
            elif kind_of is int:
                values[f.name] = st.number_input(label, value=f.default, step=1, help=help_text)
            elif kind_of is float:
                values[f.name] = st.number_input(label, value=float(f.default), format="%g", help=help_text)
            else:
                values[f.name] = st.text_input(label, value=str(f.default), help=help_text)
        return st.form_submit_button(submit, type="primary"), values
