import math

import pytest

from backend.records import RecordError, record_from_dict


def run(**over):
    base = {"schema_version": 1, "run_id": "m2v-distill--t--1", "kind": "m2v-distill",
            "metrics": [{"language": "python", "metric": "ndcg@10", "value": 0.5, "n": 100}]}
    base.update(over)
    return base


def test_valid_record_gets_defaults_and_canonical_names():
    rec = record_from_dict(run(metrics=[{"language": "Java", "metric": "NDCG_at_10", "value": 0.25}],
                               created_at="2026-11-22T23:00:00+01:00"))
    assert rec.name == rec.run_id and rec.status == "finished" and rec.source == "local"
    assert rec.metrics == [{"language": "java", "metric": "ndcg@10", "value": 0.25, "n": None}]
    assert rec.created_at == "2026-11-22T22:00:00Z"


def test_digest_is_stable_and_content_sensitive():
    a, b = record_from_dict(run()), record_from_dict(run())
    assert a.digest() == b.digest()
    assert record_from_dict(run(name="other")).digest() != a.digest()


@pytest.mark.parametrize("over, needle", [
    ({"run_id": "../escape"}, "not allowed"),
    ({"run_id": "/abs/path"}, "not allowed"),
    ({"run_id": "a\x00b"}, "not allowed"),
    ({"kind": "nope"}, "unknown run kind"),
    ({"params": -1}, ">= 0"),
    ({"params": 1.5}, "whole number"),
    ({"disk_mb": math.inf}, "finite"),
    ({"disk_mb": True}, "must be a number"),
    ({"status": "done"}, "unknown status"),
    ({"name": "x" * 200_000}, "at most"),
    ({"metrics": [{"language": "python", "metric": "mean_rank", "value": 0.5}]}, "out of range"),
    ({"metrics": [{"language": "python", "metric": "recall@5", "value": 1.2}]}, "out of range"),
    ({"metrics": [{"language": "python", "metric": "mrr", "value": 0.1}] * 2}, "appears twice"),
    ({"queries": [{"language": "python", "query_id": "q1", "gold_rank": 0}]}, ">= 1"),
    ({"config": [1, 2]}, "JSON object"),
])
def test_invalid_records_name_the_problem(over, needle):
    with pytest.raises(RecordError, match=needle):
        record_from_dict(run(**over))
