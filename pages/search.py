"""Live search: one query, two models, their results side by side. Indexes are built by worker processes."""
import streamlit as st

from backend.config import settings
from backend.retrieval import indexes, search
from backend.views import search as live
from pages.parts.links import from_link, link_box, to_link
from pages.parts.reads import load
from pages.parts.search import column, corpus_picker, encoder_for, index_of

st.title("Live search")
runs = load("runs")
if runs is not None:
    models, problems = search.searchable_models(runs, settings().cache_dir)
    for problem in problems:
        st.caption(f"Not offered: {problem}")
    if not models:
        st.info(live.NO_MODEL)
        st.stop()
    names, (first_a, first_b) = list(models), live.default_pair(list(models))
    left, right = st.columns(2)
    from_link("search_a", "a", names, first_a)
    from_link("search_b", "b", names, first_b)
    a = left.selectbox("Model A", names, key="search_a")
    b = right.selectbox("Model B", names, key="search_b")
    choice, spec, corpus, k = corpus_picker()
    if st.button("Try a benchmark query", disabled=choice == live.FOLDER):
        pair = live.benchmark_query(corpus)
        st.session_state.query = st.session_state.gold_query = pair["query"]
        st.session_state.gold = pair["id"]
    if "query" not in st.session_state:  # a link's query (any text: not one of a list of options)
        st.session_state.query = st.query_params.get("q", "")
    query = st.text_input("Query", key="query", placeholder="e.g. parse a date string into a timestamp")
    to_link(a=a, b=b, corpus=choice, q=query.strip() or None)
    # The gold mark belongs to the benchmark query it came with, not to whatever is typed afterwards.
    gold = st.session_state.get("gold") if query == st.session_state.get("gold_query") else None
    if not query.strip():
        st.info("Type a query, or try a benchmark query.")
        st.stop()
    try:
        search.check_query(query)
        shown = [index_of(models[label], corpus, spec) for label in (a, b)]
        results = [None if isinstance(index, indexes.Build) else
                   search.search(encoder_for(models[label]), index, corpus, query, k)
                   for label, index in zip((a, b), shown)]
        for side, (slot, label) in enumerate(zip(st.columns(2), (a, b))):
            with slot:
                column(label, models[label], shown[side], results[side], corpus, spec, gold, results[1 - side])
        if None not in results:
            st.caption(live.overlap_note(*results, corpus))
        link_box()
    except (search.SearchError, ValueError, OSError) as e:
        st.error(str(e))
