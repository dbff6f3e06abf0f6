"""Documentation stays true: every setting, run.json field, metric and CLI command is documented."""
import re
import subprocess

from backend.__main__ import _parser
from backend.config import REPO_ROOT, documented
from backend.records import RUN_FIELDS
from backend.vocab import METRICS

README = (REPO_ROOT / "README.md").read_text()
RUN_JSON_DOC = (REPO_ROOT / "docs" / "run-json.md").read_text()


def test_every_setting_is_in_the_readme():
    for env, _, _ in documented():
        assert f"`{env}`" in README, env


def test_every_run_json_field_and_metric_is_documented():
    for name in RUN_FIELDS:
        assert re.search(rf"^\| `{re.escape(name)}` \|", RUN_JSON_DOC, re.M), name
    for name in METRICS:
        assert f"`{name}`" in RUN_JSON_DOC, name


def test_every_cli_command_is_in_the_readme():
    commands = _parser()._subparsers._group_actions[0].choices
    for name in commands:
        assert f"python -m backend {name}" in README or f"-m backend {name}" in README, name


def test_ci_runs_the_readme_test_command():
    script = (REPO_ROOT / ".ci" / "run").read_text()
    extract = re.search(r"cmd=\$\((.*)\)\n", script).group(1)
    cmd = subprocess.run(["bash", "-c", extract], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    block = re.search(r"<!-- test-command -->\n```bash\n(.*)\n```\n<!-- /test-command -->", README).group(1)
    assert cmd == block and "pytest" in cmd
