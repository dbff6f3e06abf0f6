"""Deep links: a page's selections live in its URL, so a link opens the page as its sender saw it."""
from __future__ import annotations

import streamlit as st


def from_link(key: str, param: str, options: list, default, multi: bool = False, remap=None):
    """Seed widget ``key``'s value before the widget is drawn: from the URL's ``param`` on a fresh session (an
    opened link; values that are not among ``options`` are dropped), else ``default``; a value no longer among
    ``options`` (another benchmark, a deleted run) falls back to ``default`` too. Chosen values survive related
    changes (a new base keeps the candidates still comparable with it; ``remap(values)``, for a multi-select,
    maps them onto ``options`` instead, e.g. to their protocol twins)."""
    by_text = {str(o): o for o in options}
    if key not in st.session_state:
        linked = [by_text[v] for v in st.query_params.get_all(param) if v in by_text]
        st.session_state[key] = linked if multi and linked else linked[0] if linked else default
    elif multi:  # keep (or remap) the choices still offered; when none is left, the default
        now = st.session_state[key]
        now = list(now) if isinstance(now, (list, tuple)) else []  # a stale browser value may be anything
        kept = remap(now) if remap else [v for v in now if v in options]
        if kept != st.session_state[key]:
            st.session_state[key] = kept or default
    elif st.session_state[key] not in options:
        st.session_state[key] = default


def to_link(**params):
    """Write the page's current selections to its URL (lists as repeated parameters; None or [] left out)."""
    st.query_params.from_dict({k: ([str(x) for x in v] if isinstance(v, list) else str(v))
                               for k, v in params.items() if v is not None and v != []})


def link_box():
    """The page's link with its selections, in a box with a copy button."""
    import urllib.parse
    url = (st.context.url or "").split("?")[0]
    query = urllib.parse.urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    with st.popover(":material/link: Link to this view"):
        st.caption("Opens this page with the same selections (copy with the button on the right).")
        st.code(f"{url}?{query}" if query else url, language=None)
