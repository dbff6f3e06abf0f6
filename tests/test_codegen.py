"""Codegen: the Java translation, the importers, and codegen-eval end to end with real GGUF models."""
import json
import shutil

import pytest

from backend import catalog, compare
from backend.catalog import ImportErrors
from backend.codegen import java, problems, sandbox
from backend.config import settings
from backend.vocab import ExecStatus
from tests.conftest import needs_sandbox

needs_java = pytest.mark.skipif(not shutil.which("javac"), reason="needs a JDK (javac, java)")
HE0_JAVA = """        for (int i = 0; i < numbers.size(); i++)
            for (int j = i + 1; j < numbers.size(); j++)
                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;
        return false;"""


def test_java_set_covers_what_it_says_and_ids_are_stable():
    pset = problems.load_problem_set("humaneval-java")
    skipped = problems.skipped_java()
    assert len(pset.problems) + len(skipped) == 164
    assert len(pset.problems) >= 100, pset.note
    assert pset.id == problems.load_problem_set("humaneval-java").id and pset.id.startswith("humaneval-java-")
    assert "HumanEval/0" in {p.task_id for p in pset.problems}
    assert all(p.prompt.rstrip().endswith("{") for p in pset.problems)


def test_translation_of_types_and_asserts():
    prompt = "def f(xs: list, d, s: str, x):\n    \"\"\"Doc.\n    >>> f([1], {'a': 1.5}, 'q', 2)\n    True\n    \"\"\"\n"
    test = ("def check(candidate):\n    assert candidate([1, 2], {'a': 1.5}, 'say \"hi\"\\n', -3) == [0.5]\n"
            "    assert not candidate([], {}, '', 2.5)\n")
    with pytest.raises(java.Untranslatable, match="type 'list'"):
        java.translate(prompt, test, "f")  # a bare `list` annotation says nothing about its elements
    j = java.translate(prompt.replace("xs: list", "xs"), test.replace("== [0.5]", ""), "f")
    assert "public static boolean f(ArrayList<Long> xs, HashMap<String,Double> d, String s, double x) {" in j.prompt
    assert '"say \\"hi\\"\\n"' in j.tests and "(-3.0)" in j.tests and "Judge.emit(1, f(new ArrayList<Long>()" in j.tests
    assert j.cases == ((True, "bool-check"), (False, "bool-check"))  # the judge compares, outside the JVM
    assert ">>> f(new ArrayList<Long>(Arrays.asList(1l))" in j.prompt
    with pytest.raises(java.Untranslatable, match="For"):
        java.translate("def g(x):\n    pass\n", "def check(candidate):\n    for i in range(3):\n        assert candidate(i)\n", "g")


@pytest.mark.integration
@needs_java
@needs_sandbox
def test_translated_problem_judges_a_java_solution():
    pset = problems.load_problem_set("humaneval-java")
    he0 = pset.by_id["HumanEval/0"]
    assert sandbox.run_job(pset.job(he0, HE0_JAVA)).status == ExecStatus.PASS
    wrong = sandbox.run_job(pset.job(he0, "        return true;"))
    assert wrong.status == ExecStatus.FAIL and "test 2" in wrong.reason


def _samples(path, completions):
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in completions))
    return path


@pytest.mark.integration
@needs_sandbox
def test_human_eval_samples_are_executed_on_import(tmp_path, store, runs_dir):
    from backend.codegen.problems import humaneval_rows
    rows = {r["task_id"]: r for r in humaneval_rows()}
    done = [("HumanEval/2", rows["HumanEval/2"]["canonical_solution"]), ("HumanEval/2", "    return 0.0\n"),
            ("HumanEval/4", rows["HumanEval/4"]["canonical_solution"]), ("HumanEval/4", "    while True: pass\n")]
    catalog.import_paths([_samples(tmp_path / "samples.jsonl", done)], store=store)
    metrics = store.metrics()
    assert metrics.set_index("metric").loc["pass@1", "value"] == pytest.approx(0.5)
    statuses = store.problem_results([store.runs()["run_id"][0]])["status"].tolist()
    assert statuses == ["PASS", "FAIL", "PASS", "TIMEOUT"]
    limits = json.loads(store.runs()["config"][0])["execution_limits"]  # the timeout decided the TIMEOUT
    assert limits["timeout_s"] == 10 and limits["memory_mb"] > 0


def test_human_eval_results_file_evalplus_and_bigcode(tmp_path, store):
    results = tmp_path / "s.jsonl_results.jsonl"
    results.write_text("".join(json.dumps({"task_id": f"HumanEval/{i}", "completion": "x", "passed": i < 3,
                                           "result": "passed" if i < 3 else "timed out"}) + "\n" for i in range(4)))
    evalplus = tmp_path / "eval_results.json"
    evalplus.write_text(json.dumps({"hash": "h", "eval": {
        "HumanEval/0": [{"base_status": "pass", "plus_status": "fail"}],
        "HumanEval/1": [{"base_status": "pass", "plus_status": "pass"}]}}))
    bigcode = tmp_path / "evaluation_results.json"
    bigcode.write_text(json.dumps({"humaneval": {"pass@1": 0.25, "pass@10": 0.4},
                                   "multiple-java": {"pass@1": 0.2}, "config": {"model": "m", "n_samples": 20}}))
    catalog.import_paths([results, evalplus, bigcode], store=store)
    m = store.metrics().merge(store.runs()[["run_id", "protocol"]])
    pass1 = {(r.run_id.split("--")[0], r.protocol, r.language): r.value for r in m[m.metric == "pass@1"].itertuples()}
    assert pass1[("humaneval", "n=1", "python")] == pytest.approx(0.75)
    assert pass1[("evalplus", "evalplus-base n=1", "python")] == 1.0
    assert pass1[("evalplus", "evalplus-plus n=1", "python")] == 0.5
    assert pass1[("bigcode", "n=20 T=?", "java")] == 0.2


@pytest.mark.parametrize("name, text, message", [
    ("samples.jsonl", '{"task_id": "HumanEval/0", "completion": "x"}\nnot json\n', "line 2 is not JSON"),
    ("samples.jsonl", '{"task_id": "Nope/1", "completion": "x"}\n', "'Nope/1' is not in humaneval-python"),
    ("samples.jsonl", '{"task_id": "HumanEval/0", "completion": "x", "language": "rust"}\n', "'rust' cannot be executed"),
    ("eval_results.json", '{"eval": {"HumanEval/0": [{"plus_status": "pass"}]}}', "no base_status"),
    ("eval_results.json", '', "the file is empty"),
    ("evaluation_results.json", '{"mbpp-typo": {"pass@1": 0.1}, "config": {}}', "not in python, java"),
    ("starcoder2_3b_evaluation_humaneval.json", '{"humaneval": {"pass@1": 25}, "config": {}}', "divide it by 100"),
])
def test_malformed_codegen_files_are_refused_with_the_fix(tmp_path, store, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    before = store.fingerprint()
    with pytest.raises(ImportErrors, match=message):
        catalog.import_paths([path], store=store)
    assert store.fingerprint() == before


def test_flipped_problems():
    import pandas as pd
    rows = pd.DataFrame([("a", "python", "P/0", 0, "PASS"), ("b", "python", "P/0", 0, "FAIL"),
                         ("a", "python", "P/1", 0, "FAIL"), ("b", "python", "P/1", 0, "PASS"),
                         ("a", "python", "P/2", 0, "PASS"), ("b", "python", "P/2", 0, "PASS")],
                        columns=["run_id", "language", "problem_id", "sample", "status"])
    flipped = compare.flipped_problems(rows, "a", "b")
    assert flipped[["problem_id", "flip"]].values.tolist() == [["P/1", "now passes"], ["P/0", "now fails"]]


@pytest.mark.integration
@needs_sandbox
def test_an_interrupted_codegen_run_resumes_what_it_generated(llama_generates, store, runs_dir, monkeypatch):
    """SmolLM2 on 4 problems, two generated at a time, interrupted while generating the last two: launched
    again with the same id (as a sweep or recipe does), it generates only those two and keeps the first two's
    completions; a log written by another generator (its first line) is not reused."""
    from backend.codegen import generate
    from backend.runs.lifecycle import launch
    asked, complete_many = [], generate.LlamaCpp.complete_many

    def counted(self, requests, sampling):
        asked.append(len(requests))
        if interrupt and len(asked) == 2:
            raise KeyboardInterrupt
        return complete_many(self, requests, sampling)
    monkeypatch.setattr(generate.LlamaCpp, "complete_many", counted)
    monkeypatch.setattr(generate.LlamaCpp, "sequences", 2)
    options = {"model": "smollm2-135m", "problem_sets": "humaneval-python", "limit": 4, "max_new_tokens": 24}
    interrupt = True
    with pytest.raises(KeyboardInterrupt):
        launch("codegen-eval", options, store, settings(), run_id="resumed")
    log = runs_dir / "resumed" / "generated.jsonl"
    first_two = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    assert len(first_two) == 2 and store.runs().set_index("run_id").loc["resumed", "status"] == "cancelled"
    with open(log, "a") as f:
        f.write('{"set": "humaneval-python", "task_')  # a line torn by a kill mid-write
    asked.clear()
    interrupt = False
    [record] = launch("codegen-eval", options, store, settings(), run_id="resumed")
    assert record.status == "finished" and asked == [2] and not log.exists()
    samples = [json.loads(line) for line in (runs_dir / "resumed" / "samples-humaneval-python.jsonl").open()]
    assert [s["completion"] for s in samples[:2]] == [e["completions"][0][0] for e in first_two]
    # Another generator's log (here: another identity in its first line) is generated again, not reused.
    log.write_text(json.dumps({"identity": {"other": 1}}) + "\n" + json.dumps(first_two[0]) + "\n")
    asked.clear()
    launch("codegen-eval", options, store, settings(), run_id="resumed")
    assert asked == [2, 2]


@pytest.mark.slow
@needs_sandbox
def test_codegen_eval_end_to_end_with_the_default_model(llama_generates, store, runs_dir):
    """The real default model (Qwen2.5-Coder-0.5B GGUF) on 3 Python and 3 Java problems, executed."""
    from backend.runs.lifecycle import launch
    [record] = launch("codegen-eval", {"limit": 3}, store, settings())
    assert record.status == "finished" and record.params > 400e6 and record.tokens_per_s > 0
    assert record.provenance["gguf_general_name"].startswith("Qwen2.5 Coder 0.5B")
    by = {(m["language"], m["metric"]): m for m in record.metrics}
    assert by[("python", "pass@1")]["n"] == 3 and by[("java", "pass@1")]["n"] == 3
    assert by[("python", "pass@1")]["value"] > 0  # HumanEval/0, /2 and /3 are within this model's reach
    assert len(store.problem_results([record.run_id])) == 6
    samples = (runs_dir / record.run_id / "samples-humaneval-python.jsonl").read_text().splitlines()
    assert len(samples) == 3 and "completion" in json.loads(samples[0])


@pytest.mark.slow
@needs_sandbox
@pytest.mark.parametrize("method", ["lora", "full"])
def test_codegen_finetune_end_to_end_on_tiny_data(llama_generates, store, runs_dir, tiny_bench, method):
    """SmolLM2-135M (real, through transformers) learns a repetitive toy corpus: loss and perplexity fall."""
    from backend.runs.lifecycle import launch
    [record] = launch("codegen-finetune", {"method": method, "steps": 8, "batch_size": 4, "max_length": 48,
                                           "heldout": 4, "limit": 1, "max_new_tokens": 24,
                                           "learning_rate": 1e-3 if method == "lora" else 1e-4}, store, settings())
    by = {(m["language"], m["metric"]): m["value"] for m in record.metrics}
    assert by[("java", "perplexity")] < by[("java", "base_perplexity")]  # it learned the target language
    losses = json.loads((runs_dir / record.run_id / "losses.json").read_text())
    assert len(losses) == 8 and sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert {("python", "pass@1"), ("java", "pass@1")} <= set(by)
    if method == "lora":
        from peft import PeftConfig
        assert PeftConfig.from_pretrained(runs_dir / record.run_id / "adapter").r == 8
        assert 0 < record.trainable_params < record.params / 20
        assert (runs_dir / record.run_id / "adapter.gguf").is_file()
    else:
        assert record.trainable_params == record.params and not list((runs_dir / record.run_id).glob("*.gguf"))
    assert record.config["generation"].startswith("llama-cpp")  # the packaged model is a GGUF file


@pytest.mark.slow
@needs_sandbox
def test_a_finetune_run_launched_again_reuses_its_trained_adapter(llama_generates, store, runs_dir, tiny_bench,
                                                                 monkeypatch):
    """The same LoRA run id launched again (a recipe re-run after an interruption) loads the adapter its first
    attempt trained instead of training again; another config's marker is not reused."""
    from backend.codegen import finetune
    from backend.runs.lifecycle import launch
    options = {"method": "lora", "steps": 4, "batch_size": 4, "max_length": 48, "heldout": 4, "limit": 1,
               "max_new_tokens": 8}
    [first] = launch("codegen-finetune", options, store, settings(), run_id="again")
    monkeypatch.setattr(finetune, "train", lambda *a, **k: pytest.fail("trained again"))
    [second] = launch("codegen-finetune", options, store, settings(), run_id="again")
    assert second.status == "finished" and second.train_seconds == first.train_seconds
    assert second.trainable_params == first.trainable_params
    by = lambda r: {(m["language"], m["metric"]): m["value"] for m in r.metrics}  # noqa: E731
    assert by(second)[("java", "perplexity")] == pytest.approx(by(first)[("java", "perplexity")], rel=1e-5)
    marker = runs_dir / "again" / finetune.TRAINED
    marker.write_text(marker.read_text().replace('"steps": 4', '"steps": 5'))
    with pytest.raises(Exception, match="trained again"):
        launch("codegen-finetune", options, store, settings(), run_id="again")


@pytest.mark.slow
def test_a_model_written_as_gguf_gives_llama_cpp_the_packaged_models_logits(llama_generates, tmp_path):
    """write_model on SmolLM2 as transformers loaded it (dequantized): llama.cpp's logits from the exported
    Q8_0 file match those of the packaged Q4_1 file (without the q/k row reordering: correlation 0.78)."""
    import numpy as np
    from llama_cpp import Llama

    from backend.codegen.generate import load_causal_lm
    from backend.codegen.gguf_export import write_model
    from backend.codegen.lms import gguf_name, resolve_lm
    path = resolve_lm("smollm2-135m", settings().cache_dir)
    model, _ = load_causal_lm(path)
    exported = write_model(model, path, tmp_path / "model.gguf")
    assert gguf_name(exported) == gguf_name(path)  # the packaged file's metadata and tokenizer came along

    def logits(file):
        llm = Llama(model_path=str(file), n_ctx=256, logits_all=True, verbose=False)
        ids = llm.tokenize(b'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n')
        llm.eval(ids)
        return np.array(llm.scores[:len(ids)])
    packaged, ours = logits(path), logits(exported)
    assert np.corrcoef(packaged.ravel(), ours.ravel())[0, 1] > 0.99
    assert np.mean(packaged.argmax(1) == ours.argmax(1)) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("modules, least", [("all-linear", 0.85), ("q_proj", 0.3)])
def test_a_lora_adapter_written_as_gguf_moves_llama_cpp_as_it_moves_transformers(llama_generates, tmp_path, modules,
                                                                                  least):
    """Parity of the adapter export: on SmolLM2 (a llama model: q/k rows are reordered for rotary embedding),
    the change the adapter makes to llama.cpp's logits correlates with the change it makes through peft.
    Not equal: llama.cpp runs the Q4_1 weights and rounds activations, which adds noise to any change
    (a q_proj-only adapter without the reordering correlated at 0.03, with it at 0.5; all layers at 0.93)."""
    import numpy as np
    import torch
    from llama_cpp import Llama
    from peft import LoraConfig, get_peft_model

    from backend.codegen.generate import load_causal_lm
    from backend.codegen.gguf_export import write_adapter
    from backend.codegen.lms import resolve_lm
    path = resolve_lm("smollm2-135m", settings().cache_dir)
    model, _ = load_causal_lm(path)
    torch.manual_seed(0)
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=modules if modules ==
                                                  "all-linear" else [modules], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, weight in peft_model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.05)  # peft starts B at 0 (no change): give the adapter an effect
    adapter = write_adapter(peft_model, path, tmp_path / "adapter.gguf")
    prompt = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'

    def llama_cpp(lora):
        llm = Llama(model_path=str(path), n_ctx=256, logits_all=True, verbose=False,
                    **({"lora_path": str(lora)} if lora else {}))
        ids = llm.tokenize(prompt.encode())
        llm.eval(ids)
        return ids, np.array(llm.scores[:len(ids)])
    ids, base = llama_cpp(None)
    _, adapted = llama_cpp(adapter)
    with torch.no_grad():
        tokens = torch.tensor([ids])
        peft_adapted = peft_model(input_ids=tokens).logits[0].numpy()
        with peft_model.disable_adapter():
            peft_base = peft_model(input_ids=tokens).logits[0].numpy()
    ours, theirs = (adapted - base).ravel(), (peft_adapted - peft_base).ravel()
    assert np.corrcoef(ours, theirs)[0, 1] > least
    if modules == "all-linear":  # the generator's own context (samples decoded together) applies the adapter too
        from backend.codegen.generate import LlamaCpp, Sampling
        one_by_one = Llama(model_path=str(path), n_ctx=256, verbose=False, lora_path=str(adapter))
        expected = one_by_one.create_completion(prompt, max_tokens=16, temperature=0)["choices"][0]["text"]
        plain = LlamaCpp(path).complete(prompt, [], Sampling(max_new_tokens=16))[0].text
        assert LlamaCpp(path, adapter).complete(prompt, [], Sampling(max_new_tokens=16))[0].text == expected != plain


@pytest.mark.slow
def test_samples_decoded_together_are_what_llama_cpp_generates_one_at_a_time(llama_generates):
    """The llama-cpp backend decodes several prompts and their n samples as one batch: greedy text is
    create_completion's, a seeded group is reproducible, its samples differ, each is cut at the first stop."""
    import os

    from llama_cpp import Llama

    from backend.codegen.generate import LlamaCpp, Sampling
    from backend.codegen.lms import resolve_lm
    path = resolve_lm("smollm2-135m", settings().cache_dir)
    pset = problems.load_problem_set("humaneval-python")
    llm, ours = Llama(model_path=str(path), n_ctx=1024, verbose=False), LlamaCpp(path)
    stop = list(pset.problems[0].stop)
    greedy = [llm.create_completion(p.prompt, max_tokens=64, temperature=0, stop=stop)["choices"][0]["text"]
              for p in pset.problems[:3]]
    assert ours.complete(pset.problems[0].prompt, stop, Sampling(max_new_tokens=64))[0].text == greedy[0]
    # Prompts decoded together: each sequence attends to its own prompt only. Not equal to the letter after
    # a few dozen tokens (a batch sums in another order, and a near tie can flip), but far from a neighbour's.
    together = ours.complete_many([(p.prompt, stop) for p in pset.problems[:3]], Sampling(max_new_tokens=64))
    assert all(c.text == g or len(os.path.commonprefix([c.text, g])) >= 40 for [c], g in zip(together, greedy))
    sampling = Sampling(n=4, temperature=0.8, max_new_tokens=48, seed=3)
    first = ours.complete(pset.problems[0].prompt, stop, sampling)
    assert [c.text for c in first] == [c.text for c in ours.complete(pset.problems[0].prompt, stop, sampling)]
    assert len({c.text for c in first}) > 1 and all(0 < c.tokens <= 48 for c in first)
    assert not any(s in c.text for c in first for s in stop)


@pytest.mark.slow
@needs_java
@needs_sandbox
def test_every_java_program_compiles_and_a_throwing_body_fails():
    """All translated programs (signature, reporting main, Judge class) compile: a body that throws is FAIL,
    never ERROR."""
    pset = problems.load_problem_set("humaneval-java")
    jobs = [pset.job(p, "        throw new UnsupportedOperationException();") for p in pset.problems]
    outcomes = sandbox.run_many(jobs, sandbox.Limits(timeout_s=30, cpu_s=30))
    assert {o.status for o in outcomes} == {ExecStatus.FAIL}, [
        (p.task_id, o.stderr[-300:]) for p, o in zip(pset.problems, outcomes) if o.status != ExecStatus.FAIL][:3]
