"""Documentation stays true: every setting, run.json field, metric and CLI command is documented, the CLI
reference is the parser's, links resolve, and the README stays a front page."""
import re
import subprocess
from pathlib import Path

from backend.__main__ import _parser
from backend.cli import docs as cli_docs
from backend.config import REPO_ROOT, documented
from backend.records import RUN_FIELDS
from backend.vocab import METRICS

README = (REPO_ROOT / "README.md").read_text()
DOCS = {p: p.read_text() for p in sorted((REPO_ROOT / "docs").glob("*.md"))}
RUN_JSON_DOC = (REPO_ROOT / "docs" / "run-json.md").read_text()
ALL_DOCS = README + "\n".join(DOCS.values())


def test_every_setting_is_in_the_readme():
    for env, _, _ in documented():
        assert f"`{env}`" in README, env


def test_every_run_json_field_and_metric_is_documented():
    for name in RUN_FIELDS:
        assert re.search(rf"^\| `{re.escape(name)}` \|", RUN_JSON_DOC, re.M), name
    for name in METRICS:
        assert f"`{name}`" in RUN_JSON_DOC, name


def test_every_cli_command_is_documented_in_prose():
    """The generated reference lists them all by construction; this asks for each in the README's cheat-sheet
    or the docs' prose too."""
    prose = README + "\n".join(t for p, t in DOCS.items() if p != cli_docs.CLI_DOC)
    commands = _parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"python -m backend {name}" in prose or f"-m backend {name}" in prose, name


def test_cli_reference_is_generated_from_the_parser():
    """docs/cli.md is what `python -m backend docs-cli` writes now; a changed option without a regenerated file
    fails here."""
    expected = cli_docs.render(_parser())
    assert cli_docs.CLI_DOC.read_text() == expected, "docs/cli.md is stale: run `python -m backend docs-cli`"


def test_cli_reference_covers_every_command_and_option():
    """The generator walks sub-commands recursively: every option of every leaf command is in the text."""
    text = cli_docs.CLI_DOC.read_text()

    def walk(parser, path):
        assert f"`{path}`" in text, path
        for action in parser._actions:
            if action.dest == "help":
                continue  # the header says once that every command takes -h
            for flag in action.option_strings:
                assert flag in text, (path, flag)
        for name, child, _ in cli_docs._children(parser):
            walk(child, f"{path} {name}")
    walk(_parser(), "python -m backend")
    for kind in ("launch kd-student", "launch codegen-eval", "bench build", "recipe show"):
        assert f"`python -m backend {kind}`" in text, kind


def test_readme_is_a_front_page():
    assert len(README.splitlines()) <= 200


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_docs_resolve():
    for path, text in [(REPO_ROOT / "README.md", README), *DOCS.items()]:
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            assert dest.exists(), f"{path.name}: {target}"
            if anchor and dest.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", dest.read_text(), re.M)
                assert anchor in {_anchor(h) for h in headings}, f"{path.name}: {target}"


def test_ci_runs_the_readme_test_command():
    script = (REPO_ROOT / ".ci" / "run").read_text()
    extract = re.search(r"cmd=\$\((.*)\)\n", script).group(1)
    cmd = subprocess.run(["bash", "-c", extract], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    block = re.search(r"<!-- test-command -->\n```bash\n(.*)\n```\n<!-- /test-command -->", README).group(1)
    assert cmd == block and "pytest" in cmd


def test_the_readme_test_command_is_the_fast_tier_and_ci_runs_the_others_after_it():
    block = re.search(r"<!-- test-command -->\n```bash\n(.*)\n```\n<!-- /test-command -->", README).group(1)
    assert block.endswith('pytest -m "not slow and not integration" -n 2 --dist loadfile')
    script = (REPO_ROOT / ".ci" / "run").read_text()
    readme_run = script.index('bash -c "$cmd"')
    assert readme_run < script.index("pytest -m integration") < script.index("pytest -m slow")


def test_the_theme_switch_named_in_the_docs_is_in_this_streamlits_menu():
    """The docs tell a user where to switch to dark mode: the installed Streamlit's main menu must hold those
    items (1.67: System / Light / Dark at the top of the ⋮ menu; no "Settings" dialog any more)."""
    import streamlit
    bundle = "".join(p.read_text(errors="ignore") for p in
                     (Path(streamlit.__file__).parent / "static" / "static" / "js").glob("index.*.js"))
    said = re.search(r"theme \(the ⋮ menu at the top right → ([A-Za-z, ]+)\)", (REPO_ROOT / "docs/pages.md").read_text())
    assert said, "docs/pages.md no longer says where the theme is switched"
    for item in re.split(r", | or ", said.group(1)):
        assert f"label:`{item}`" in bundle, f"{item!r} is not in Streamlit {streamlit.__version__}'s main menu"
    assert "Settings → Theme" not in (REPO_ROOT / "README.md").read_text() + (REPO_ROOT / "docs/pages.md").read_text()
