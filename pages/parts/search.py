"""The Live search page's parts: models, corpora and indexes shared by all sessions, the corpus picker, and one
model's column of results (or its index's progress while a worker builds it)."""
import streamlit as st

from backend.catalog import default_store
from backend.config import settings
from backend.retrieval import indexes, search
from backend.retrieval.encoders import load_encoder, query_threads
from backend.views import search as live
from backend.vocab import CODE_LANGUAGES
from pages.parts.links import from_link


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


def corpus_picker():
    """The corpus widgets: (choice, its spec, the corpus); stops the page with a message when there is none."""
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
        return choice, spec, corpus_for(spec), k
    except (search.SearchError, ValueError, OSError) as e:
        st.error(f"Cannot use this corpus: {e}")
        st.stop()


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
    """One model's results as cards (score, where, the first lines), or its index's progress."""
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
