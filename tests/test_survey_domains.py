"""Domain estimates and design effects against R ``survey`` and hand formulas.

References (``data/reference/survey/``):

- ``domains.csv``: R's ``svymean(~x, subset(dfpc, x > 4))`` and ``svyby(~x, ~I(x > 4), dfpc,
  svymean)`` on R's ``fpc`` data (``fpc.csv``, printed in ``tests/testoutput/fpc.Rout.save``), and
  the whole-sample means with and without FPC;
- ``deff.csv``: R's ``deff = TRUE`` and ``deff = "replace"`` on the ``kigyo`` data (``kigyo.csv``,
  typed in ``tests/deff.Rout.save``);
- a domain of two columns against the hand linearisation of a domain mean.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evaluation.survey import SurveyData, SurveyDesign
from test_survey import printed_tolerance


def _read(reference_dir, name, **kw):
    return pd.read_csv(reference_dir / "survey" / name, na_values=["NA"], keep_default_na=False, **kw)


@pytest.fixture(scope="module")
def fpc(reference_dir):
    d = _read(reference_dir, "fpc.csv")
    # nest = TRUE: PSU numbers repeat across strata
    return d.assign(psu=d["stratid"].astype(str) + "." + d["psuid"].astype(str),
                    **{"x>4": np.where(d["x"] > 4, "TRUE", "FALSE")})


def test_domain_rows_of_r(reference_dir, fpc):
    designs = {
        # svydesign(id = ~psuid, strat = ~stratid, weight = ~weight, data = fpc, nest = TRUE)
        "dfpc": SurveyData(fpc, SurveyDesign(stratum="stratid", psu="psu", weight="weight", fpc=None)),
        "withoutfpc": SurveyData(fpc, SurveyDesign(stratum="stratid", psu="psu", weight="weight", fpc=None)),
        # ... fpc = ~Nh
        "withfpc": SurveyData(fpc, SurveyDesign(stratum="stratid", psu="psu", weight="weight", fpc="Nh")),
    }
    ref = _read(reference_dir, "domains.csv", dtype=str)
    for row in ref.itertuples():
        sd = designs[row.design]
        if row.domain:
            col, value = row.domain.split("=")
            t = sd.mean(row.variable, domain={col: value}).table.iloc[0]
            by = sd.mean(row.variable, by=col).table.set_index("unit_id").loc[value]
            assert t["value"] == pytest.approx(by["value"], rel=1e-12) and t["se"] == pytest.approx(by["se"], rel=1e-10)
        else:
            t = sd.mean(row.variable).table.iloc[0]
        assert abs(t["value"] - float(row.estimate)) <= printed_tolerance(row.estimate), (row.design, t["value"])
        assert abs(t["se"] - float(row.se)) <= printed_tolerance(row.se), (row.design, row.domain, t["se"])
    assert len(ref) == 5


def test_design_effects_of_r(reference_dir):
    kigyo = _read(reference_dir, "kigyo.csv")
    ref = _read(reference_dir, "deff.csv", dtype=str)
    for row in ref.itertuples():
        w = "srs.w" if row.design == "des.srs" else "pps.w"
        # svydesign(ids = ~1, weights = ~w, data = kigyo)
        sd = SurveyData(kigyo, SurveyDesign(stratum=None, psu=None, weight=w, fpc=None), name="kigyo")
        t = (sd.mean(row.variable) if row.statistic == "mean" else sd.total(row.variable)).table.iloc[0]
        assert abs(t["value"] - float(row.estimate)) <= printed_tolerance(row.estimate)
        assert abs(t["se"] - float(row.se)) <= printed_tolerance(row.se), (row.design, row.statistic, t["se"])
        deff = t["deff"]
        if row.design == "des.pps":
            # R's deff = "replace" compares with SRS with replacement; the table's deff is without
            # replacement: they differ by the FPC 1 - n/N, N the sum of the weights (1251)
            deff *= 1 - 10 / kigyo[w].sum()
        assert abs(deff - float(row.deff)) <= printed_tolerance(row.deff), (row.design, row.statistic, deff)
        assert t["effective_n"] == pytest.approx(10 / t["deff"], rel=1e-12)
    assert len(ref) == 4


def test_domain_of_two_columns_by_hand(reference_dir):
    strat = _read(reference_dir, "apistrat.csv")
    sd = SurveyData(strat, SurveyDesign(stratum="stype", psu=None, weight="pw", fpc="fpc"), name="apistrat")
    t = sd.mean("api00", by=["stype", "sch.wide"]).table.set_index("unit_id")
    assert t.index.tolist() == ["E|No", "E|Yes", "H|No", "H|Yes", "M|No", "M|Yes"]
    assert (t["level"] == "stype x sch.wide").all()
    # hand linearisation of the domain mean of (stype = H, sch.wide = No): z = w (y - m) / N_d in the
    # domain, 0 elsewhere; stratified SRS variance with (1 - n_h/N_h) over all strata
    dom = ((strat["stype"] == "H") & (strat["sch.wide"] == "No")).to_numpy()
    w, y = strat["pw"].to_numpy(float), strat["api00"].to_numpy(float)
    m = np.sum(w[dom] * y[dom]) / w[dom].sum()
    z = np.where(dom, w * (y - m) / w[dom].sum(), 0.0)
    v = sum((1 - len(ix) / strat["fpc"].iloc[ix[0]]) * len(ix) / (len(ix) - 1) * np.sum((z[ix] - z[ix].mean()) ** 2)
            for ix in strat.groupby("stype").indices.values())
    assert t.loc["H|No", "value"] == pytest.approx(m, rel=1e-12)
    assert t.loc["H|No", "se"] == pytest.approx(math.sqrt(v), rel=1e-9)
    same = sd.mean("api00", domain={"stype": "H", "sch.wide": "No"}).table.iloc[0]
    assert same["se"] == pytest.approx(t.loc["H|No", "se"], rel=1e-10) and same["n"] == dom.sum()
