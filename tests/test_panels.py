"""Panels for the impact estimators (evaluation.impact.panels) on small hand-made tables.

Every expected value below is computed by hand from the rows written in the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation import periods
from evaluation.impact import panels
from evaluation.requests import load_requests

TZ = "Asia/Shanghai"


def _t(s):
    return pd.Timestamp(s, tz=TZ) if s else pd.NaT


def _requests(rows):
    df = pd.DataFrame(rows, columns=["compound_id", "created_at", "resolved_at", "rating"])
    for c in ("created_at", "resolved_at"):
        df[c] = pd.Series([_t(x) for x in df[c]], dtype=f"datetime64[ns, {TZ}]")
    df["compound_id"] = df["compound_id"].astype("str")
    df["rating"] = df["rating"].astype("str")
    return df


def _log(rows, cutoff):
    """The rows as a flagged request log (ids R1, R2, ...; closed when resolved), cut off at ``cutoff``."""
    df = _requests(rows)
    df.insert(0, "request_id", [f"R{i + 1}" for i in range(len(df))])
    df["status"] = np.where(df["resolved_at"].notna(), "closed", "open")
    return load_requests(df, cutoff=cutoff)


@pytest.fixture
def milestones():
    return pd.DataFrame({
        "compound_id": ["C1", "C1", "C2", "C3"],
        "milestone": ["red_property", "red_property", "party_branch", "red_property"],
        "date": pd.to_datetime(["2020-05-10", "2020-02-01", "2018-01-01", "2018-06-30"]),
        "ended": pd.to_datetime([None, None, None, None]),
    })


def test_adoption_dates_first_date_of_the_milestone_only(milestones):
    a = panels.adoption_dates(milestones)
    assert a.to_dict() == {"C1": pd.Timestamp("2020-02-01"), "C3": pd.Timestamp("2018-06-30")}
    assert "C2" not in a  # reached another milestone, never red property
    with pytest.raises(ValueError, match="compound_milestones lacks column"):
        panels.adoption_dates(milestones.drop(columns="date"))


def test_period_codes_and_labels_round_trip():
    when = pd.Series(pd.to_datetime(["2019-01-01", "2019-03-31 23:59:00", "2019-04-01", "2020-12-31"], format="ISO8601"))
    q = periods.period_code(when, "quarter")
    assert list(np.diff(q)) == [0, 1, 6]  # consecutive integers: 2019Q2 -> 2020Q4 is 6 quarters on
    assert [periods.period_label(c, "quarter") for c in q] == ["2019Q1", "2019Q1", "2019Q2", "2020Q4"]
    assert [periods.label_code(periods.period_label(c, "quarter"), "quarter") for c in q] == list(q)
    m = periods.period_code(when, "month")
    assert [periods.period_label(c, "month") for c in m] == ["2019-01", "2019-03", "2019-04", "2020-12"]
    assert periods.period_end(q[-1], "quarter") == pd.Timestamp("2021-01-01")
    assert periods.period_end(m[1], "month") == pd.Timestamp("2019-04-01")
    with pytest.raises(ValueError, match="period must be"):
        periods.period_code(when, "week")


@pytest.fixture
def panel(milestones):
    rows = [
        # C1, 2020Q1: resolved after 10 h and 30 h; one still open at the cut-off; ratings
        ("C1", "2020-01-05 08:00", "2020-01-05 18:00", "satisfied"),
        ("C1", "2020-02-05 08:00", "2020-02-06 14:00", "basically_satisfied"),
        ("C1", "2020-03-05 08:00", None, None),
        # C1, 2020Q2: resolved after 4 h, rated not_reached (excluded from the rate)
        ("C1", "2020-04-05 08:00", "2020-04-05 12:00", "not_reached"),
        # C2, 2020Q1: resolved after 2 h, dissatisfied
        ("C2", "2020-01-10 08:00", "2020-01-10 10:00", "dissatisfied"),
        # C2, 2020Q4: resolved after 1 h (too close to the cut-off for duration outcomes)
        ("C2", "2020-12-01 08:00", "2020-12-01 09:00", "satisfied"),
        # resolved after the cut-off: still open at the cut-off
        ("C2", "2020-04-01 08:00", "2021-03-01 08:00", "satisfied"),
        # raised at community level: no compound
        (None, "2020-01-10 08:00", "2020-01-10 10:00", "satisfied"),
    ]
    compounds = pd.DataFrame({"compound_id": ["C1", "C2", "C3", "C4"], "community_id": ["K1", "K1", "K2", "K2"]})
    return panels.request_panel(_log(rows, _t("2021-01-15 09:00")), panels.adoption_dates(milestones),
                                compounds=compounds)


def test_request_panel_outcomes_by_hand(panel):
    p = panel.set_index(["compound_id", "period_label"])
    assert sorted(panel["period_label"].unique()) == ["2020Q1", "2020Q2", "2020Q3", "2020Q4"]
    assert len(panel) == 4 * 4  # every compound of the compounds table, every period
    c1q1 = p.loc[("C1", "2020Q1")]
    assert c1q1["requests"] == 3 and c1q1["resolved"] == 2
    assert c1q1["resolution_rate"] == pytest.approx(2 / 3)  # the open request counts as unresolved
    assert c1q1["mean_resolution_hours"] == pytest.approx((10 + 30) / 2)  # not as resolved, not imputed
    assert c1q1["median_resolution_hours"] == pytest.approx(20)
    assert c1q1["satisfaction_rate"] == pytest.approx((1 + 0.9) / 2)
    c1q2 = p.loc[("C1", "2020Q2")]
    assert c1q2["rated"] == 0 and np.isnan(c1q2["satisfaction_rate"])  # not_reached is not a rating
    assert c1q2["mean_resolution_hours"] == pytest.approx(4)
    c2q2 = p.loc[("C2", "2020Q2")]
    assert c2q2["requests"] == 1 and c2q2["resolved"] == 0  # resolved only after the cut-off
    assert np.isnan(c2q2["mean_resolution_hours"])
    assert p.loc[("C2", "2020Q1"), "satisfaction_rate"] == 0.0
    # community-level request dropped: C2 2020Q1 holds its own request only
    assert p.loc[("C2", "2020Q1"), "requests"] == 1
    # compounds without requests appear with volume 0 and no outcome
    c4 = p.loc["C4"]
    assert (c4["requests"] == 0).all() and c4["mean_resolution_hours"].isna().all()
    assert p.loc[("C3", "2020Q1"), "community_id"] == "K2"


def test_request_panel_censoring_rule(panel):
    """2020Q4 ends 2021-01-01, 14 days before the cut-off: less than 90 days of follow-up, so the
    duration-dependent outcomes are missing there; the volume is kept."""
    q4 = panel[panel["period_label"] == "2020Q4"]
    assert not q4["followup_complete"].any()
    for col in panels.CENSORING_SENSITIVE:
        assert q4[col].isna().all(), col
    assert q4.set_index("compound_id").loc["C2", "requests"] == 1
    assert panel.loc[panel["period_label"] != "2020Q4", "followup_complete"].all()


def test_request_panel_adoption_period(panel):
    first = panel.groupby("compound_id")["first_treated"].first()
    assert periods.period_label(first["C1"], "quarter") == "2020Q1"  # earliest red_property date 2020-02-01
    assert periods.period_label(first["C3"], "quarter") == "2018Q2"  # before the panel: always treated
    assert first["C2"] == 0 and first["C4"] == 0


def test_request_panel_month_and_errors(milestones):
    rows = [("C1", "2020-01-31 23:30", "2020-02-01 01:30", "satisfied")]  # local time decides the month
    p = panels.request_panel(_log(rows, _t("2021-01-01")), panels.adoption_dates(milestones), period="month")
    assert list(p["period_label"]) == ["2020-01"]
    assert p["mean_resolution_hours"].iloc[0] == pytest.approx(2)
    assert periods.period_label(p["first_treated"].iloc[0], "month") == "2020-02"
    with pytest.raises(ValueError, match="period must be"):
        panels.request_panel(_log(rows, _t("2021-01-01")), panels.adoption_dates(milestones), period="year")


def test_survey_panel_first_treated_wave_by_fieldwork_date():
    adoption = pd.Series(pd.to_datetime(["2019-10-15", "2019-10-16", "2021-11-01"]), index=["A", "B", "C"])
    survey = pd.DataFrame({
        "respondent_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
        "wave": pd.array([2019, 2019, 2020, 2021, 2021, 2021], dtype="Int64"),
        "compound_id": ["A", "B", "B", "C", "D", None],
        "community_id": ["K"] * 6,
        "weight": [1.0] * 6,
        "sat_overall": pd.array([4, 3, None, 5, 2, 3], dtype="Float64"),
    })
    s = panels.survey_panel(survey, adoption, "sat_overall").set_index("respondent_id")
    assert set(s.index) == {"r1", "r2", "r4", "r5"}  # no answer or no compound: left out
    assert s.loc["r1", "first_treated"] == 2019  # adopted on the fieldwork day
    assert s.loc["r2", "first_treated"] == 2020  # one day after the 2019 fieldwork
    assert s.loc["r4", "first_treated"] == 0  # adopted after the last fieldwork
    assert s.loc["r5", "first_treated"] == 0  # never adopted
    assert s["sat_overall"].dtype == "float64"


def test_end_dates_and_in_force_by_hand():
    """C1 adopts 2020-02-01 and its owners committee dissolves 2021-05-30: red property ends then;
    C2's committee ended before it adopted (no end of red property); C3 never ends."""
    ms = pd.DataFrame({
        "compound_id": ["C1", "C1", "C2", "C2", "C3"],
        "milestone": ["red_property", "owners_committee", "red_property", "owners_committee", "red_property"],
        "date": pd.to_datetime(["2020-02-01", "2015-01-01", "2020-08-01", "2012-01-01", "2019-07-01"]),
        "ended": pd.to_datetime([None, "2021-05-30", None, "2019-01-01", None]),
    })
    ends = panels.end_dates(ms)
    assert ends.to_dict() == {"C1": pd.Timestamp("2021-05-30")}
    q = lambda s: int(periods.period_code(pd.to_datetime([s]), "quarter")[0])  # noqa: E731
    panel = pd.DataFrame({"compound_id": ["C1"] * 4 + ["C3"] * 2,
                          "period": [q("2019-12-01"), q("2020-01-01"), q("2021-03-01"), q("2021-04-01"),
                                     q("2019-01-01"), q("2021-12-01")],
                          "first_treated": [q("2020-02-01")] * 4 + [q("2019-07-01")] * 2})
    # C1: treated from 2020Q1 up to 2021Q1 (ended in 2021Q2); C3: from 2019Q3 on
    assert panels.in_force(panel, ends).tolist() == [0, 1, 1, 0, 0, 1]
    assert panels.in_force(panel, ends.iloc[:0]).tolist() == [0, 1, 1, 1, 0, 1]
