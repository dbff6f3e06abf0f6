"""Live search: one query, two models, their results side by side. Indexes are built by worker processes."""
import streamlit as st

from backend.catalog import default_store
from backend.config import settings
from backend.retrieval import indexes, search
from backend.retrieval.encoders import load_encoder, query_threads
from backend.views import search as live
from backend.vocab import CODE_LANGUAGES
from pages.common import from_link, link_box, load, to_link


@st.cache_resource(show_spinner="Loading model…", max_entries=4)
def encoder_for(ref: str):
    from backend.device import device_for
    encoder = load_encoder(ref, settings().cache_dir, device_for("auto", settings().device))
    query_threads(1)  # queries only, here: the corpus is encoded by a worker
    return encoder


@st.cache_resource(show_spinner="Reading the corpus…", max_entries=4)
def corpus_for(spec: indexes.CorpusSpec):
    return search.open_corpus(spec.folder, spec.language, spec.bench_id, settings().bench_dir)


@st.cache_resource
def open_indexes() -> indexes.Indexes:
    """Open indexes shared by all sessions, keyed by (model, corpus); on disk under runs/.index/."""
    s = settings()
    return indexes.Indexes(s.runs_dir / ".index", int(s.search_cache_mb * 2**20), s.cache_dir)


def index_of(ref: str, corpus, spec):
    s = settings()
    return open_indexes().get(ref, corpus, lambda r, folder: indexes.spawn_worker(
        r, spec, folder, s.runs_dir, default_store(s).path, s.device))


@st.fragment(run_every=1.0)
def waiting(ref: str, corpus, spec):
    """A worker's progress, refreshed each second; the page reruns once its index is saved."""
    build = index_of(ref, corpus, spec)
    if not isinstance(build, indexes.Build):
        st.rerun()
    elif build.error:
        st.error(f"Could not build the index: {build.error}")
        st.button("Try again", key=f"retry-{ref}")
    else:
        st.progress(build.fraction(), text=f"{build.message()} — in a worker process: the pages stay usable")


def column(label: str, ref: str, index, result, corpus, spec, gold, other):
    st.subheader(label.split(" · ")[0])
    if isinstance(index, indexes.Build):
        return waiting(ref, corpus, spec)
    st.caption(live.caption(result, index))
    if (weak := live.weak_note(result, index)) is not None:
        st.warning(weak, icon=":material/help:")
    if gold:
        st.markdown(live.gold_line(index, corpus, result, gold))
    for card in live.cards(result, gold, other and [h.doc.get("id") for h in other.hits]):
        with st.container(border=True):
            st.markdown(card.header)
            st.caption(card.where)
            st.code(card.preview, language=card.language)
            if card.more_lines:
                with st.expander(f"all of it ({card.more_lines} more lines)"):
                    st.code(card.code, language=card.language)


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
    bench = live.newest_benchmark(settings().bench_dir)
    corpus_options = live.corpus_options(bench)
    c1, c2, c3 = st.columns([2, 3, 1])
    from_link("search_corpus", "corpus", corpus_options, corpus_options[0])
    choice = c1.selectbox("Corpus", corpus_options, key="search_corpus")
    folder, folder_lang = "", "python"
    if choice == live.FOLDER:
        folder = c2.text_input("Folder to mine", placeholder="/path/to/your/repository")
        folder_lang = c2.selectbox("Language", CODE_LANGUAGES)
    k = c3.number_input("k", min_value=1, max_value=50, value=10)
    try:
        if choice == live.FOLDER and not folder.strip():
            st.info("Give the folder of a source tree to mine its documented functions.")
            st.stop()
        spec = live.corpus_spec(choice, folder, folder_lang, bench.id if bench else "")
        corpus = corpus_for(spec)
    except (search.SearchError, ValueError, OSError) as e:
        st.error(f"Cannot use this corpus: {e}")
        st.stop()
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
