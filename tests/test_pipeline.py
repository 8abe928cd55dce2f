"""One pipeline per concept: the review reads the log once and each indicator table once, and the
impact panel and the svc.* indicators agree request for request on a dirty log.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.dataset import load_dataset
from evaluation.impact.panels import adoption_dates, request_panel
from evaluation.requests import dataset_log, request_indicators
from evaluation.requests.quality import FLAG_BITS

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "zhangwan-synthetic"


def test_the_review_loads_the_log_once_and_each_indicator_table_once(tmp_path, monkeypatch):
    import evaluation.indicators as ind
    import evaluation.requests.log as log_module
    from evaluation.report.session import start_review

    loads, collected = [], []
    real_load, real_collect = log_module.load_requests, ind._collect

    def counting_load(*a, **k):
        loads.append(1)
        return real_load(*a, **k)

    def counting_collect(ds, year, level, providers):
        collected.append((year, level))
        return real_collect(ds, year, level, providers)

    monkeypatch.setattr(log_module, "load_requests", counting_load)
    monkeypatch.setattr(ind, "_collect", counting_collect)
    monkeypatch.setenv("EVALUATION_NO_WORKERS", "1")  # everything in this process, so that every call is seen
    s = start_review(str(BUNDLED), 2021, "en", out_dir=str(tmp_path), sections=["targets", "requests", "index"],
                     display=False)
    for key in ("targets", "requests", "index", "not_assessed", "methods"):
        s.show(key)
    s.show_first()
    assert len(loads) == 1  # the flagged log of the dataset, kept by dataset_log
    assert len(collected) == len(set(collected)) and (2021, "district") in collected  # each year and level once


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    """The bundled district with a repeated request id and a close before the creation planted."""
    import shutil

    data = tmp_path_factory.mktemp("dirty") / "data"
    shutil.copytree(BUNDLED, data)
    req = pd.read_parquet(data / "requests.parquet")
    with_compound = req.index[req["compound_id"].notna() & req["created_at"].dt.year.eq(2020)]
    a, b = with_compound[10], with_compound[20]
    copy = req.loc[[a]].copy()  # the same request id twice
    req.loc[b, "resolved_at"] = req.loc[b, "created_at"] - pd.Timedelta(hours=5)  # closed before it was created
    req = pd.concat([req, copy], ignore_index=True)
    req.to_parquet(data / "requests.parquet", index=False)
    return load_dataset(data), req.loc[a, "compound_id"], req.loc[b, "compound_id"]


def test_the_impact_panel_and_the_indicators_count_the_same_requests(dirty):
    ds, dup_compound, bad_compound = dirty
    log = dataset_log(ds)
    flags = log.data["quality_flags"].to_numpy()
    assert (flags & FLAG_BITS["duplicate_id"]).astype(bool).sum() == 1
    assert (flags & FLAG_BITS["close_before_create"]).astype(bool).sum() >= 1
    panel = request_panel(log, adoption_dates(ds["compound_milestones"]), period="quarter")
    ind = request_indicators(log, by=["compound_id"], period="quarter").table
    req = ind[ind["indicator"].eq("svc.requests") & ind["level"].eq("compound")]
    by_cell = dict(zip(zip(req["unit_id"].astype(str), req["period"].astype(str)), req["value"]))
    for r in panel[panel["compound_id"].isin([dup_compound, bad_compound])].itertuples():
        key = (str(r.compound_id), str(r.period_label))
        assert by_cell.get(key, 0) == r.requests, key
    # the resolved counts agree too (the close-before-create request is kept in counts, out of durations)
    res = ind[ind["indicator"].eq("svc.resolution_rate") & ind["level"].eq("compound")]
    num = dict(zip(zip(res["unit_id"].astype(str), res["period"].astype(str)), res["numerator"]))
    both = panel[panel["requests"] > 0]
    got = np.array([num.get((str(c), str(p)), 0) for c, p in zip(both["compound_id"], both["period_label"])])
    assert np.allclose(got, both["resolved"].to_numpy())
