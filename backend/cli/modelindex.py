"""``python -m backend export model-index RUN -o FILE.yaml``: a run's results as the Hugging Face model card
``model-index`` YAML (``import`` reads such a card back as a run)."""
from __future__ import annotations

import sys
from pathlib import Path


def cmd_export_model_index(args, store, s):
    from backend import modelindex, views
    from backend.compare import json_object
    from backend.kinds import kinds_of
    if not args.run:
        raise ValueError("export model-index needs the run: python -m backend export model-index RUN -o FILE.yaml "
                         "(run ids: python -m backend runs --ids)")
    run = views.known_runs(store, [args.run]).loc[args.run].to_dict()
    run["config"] = json_object(run.get("config"))
    family = "codegen" if run["kind"] in kinds_of("codegen") else "retrieval"
    # The dataset's revision: an imported run's own record of it, else this project's benchmark content hash.
    revision = json_object(run.get("provenance")).get("dataset_revision") or \
        modelindex.content_hash(str(run.get("benchmark") or ""), s.bench_dir)
    metrics = store.metrics([args.run]).to_dict("records")
    text = modelindex.dump(modelindex.model_index(run, metrics, revision, family))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    results = text.count("- task:")
    print(f"wrote {results} model-index result(s) of {args.run} to {args.output}",
          file=sys.stderr if args.output == "-" else sys.stdout)
