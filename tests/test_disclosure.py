"""Disclosure control (threshold rule with complementary suppression) and the identifier scan.

Known answers are worked by hand on small tables (Hundepool et al. 2012, Statistical Disclosure
Control, sections 4.2-4.3: a line with a published total must not have exactly one hidden cell).
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.dataset.privacy import id_card_valid, person_names, scan_paths, scan_text
from evaluation.disclosure import MARK, suppress_small_cells


def tidy():
    return pd.DataFrame({
        "indicator": ["svc.requests"] * 5,
        "unit_id": ["C1", "C2", "C3", "C4", "T"],
        "value": [10.0, 3.0, 8.0, 20.0, 41.0],
        "n": [10, 3, 8, 20, 41],
    })


def test_tidy_primary_only_without_total():
    sup = suppress_small_cells(tidy().iloc[:4], "n", k=5)
    assert sup.mask["suppressed"].tolist() == ["", "primary", "", ""]
    assert sup.table.loc[1, "value"] == MARK and sup.table.loc[1, "n"] == MARK
    assert sup.table.loc[0, "value"] == 10.0
    assert (sup.n_primary, sup.n_secondary) == (1, 0)


def test_tidy_secondary_where_total_reveals_the_cell():
    # 41 - 10 - 8 - 20 = 3 would reveal C2, so the smallest other cell (C3, 8) is hidden too
    sup = suppress_small_cells(tidy(), "n", k=5, groups=["indicator"], total={"unit_id": "T"})
    assert sup.mask["suppressed"].tolist() == ["", "primary", "secondary", "", ""]
    assert sup.table.loc[4, "value"] == 41.0  # the total stays published
    assert (sup.n_primary, sup.n_secondary) == (1, 1)


def test_threshold_is_configurable_and_zero_is_not_suppressed():
    t = tidy()
    t.loc[0, "n"] = 0
    sup = suppress_small_cells(t, "n", k=10, groups=["indicator"], total={"unit_id": "T"})
    # 3 and 8 are below 10 (two hidden cells in the line: no secondary needed); 0 rests on nobody
    assert sup.mask["suppressed"].tolist() == ["", "primary", "primary", "", ""]
    sup1 = suppress_small_cells(t, "n", k=1)
    assert sup1.n_primary == 0
    with pytest.raises(ValueError):
        suppress_small_cells(t, "n", k=0)
    with pytest.raises(KeyError, match="respondents"):
        suppress_small_cells(t, "respondents")


def test_wide_table_with_margins_known_answer():
    counts = pd.DataFrame({"a": [10, 7, 8, 25], "b": [2, 9, 11, 22], "c": [12, 6, 15, 33], "Total": [24, 22, 34, 80]},
                          index=["r1", "r2", "r3", "Total"])
    sup = suppress_small_cells(counts, k=5, total_row="Total", total_col="Total")
    hidden = {(r, c) for r in counts.index for c in counts.columns if sup.mask.loc[r, c]}
    # worked by hand: b/r1 primary; row r1 -> a/r1 (10 < 12); column a -> a/r2 (7 < 8); column b -> b/r2 (9 < 11)
    assert hidden == {("r1", "b"), ("r1", "a"), ("r2", "a"), ("r2", "b")}
    assert sup.mask.loc["r1", "b"] == "primary" and sup.n_secondary == 3
    assert sup.table.loc["Total", "Total"] == 80 and sup.table.loc["r1", "b"] == MARK


def test_wide_table_with_separate_counts():
    means = pd.DataFrame({"a": [3.1, 4.2], "b": [2.5, 3.9]}, index=["x", "y"])
    n = pd.DataFrame({"a": [12, 4], "b": [30, 9]}, index=["x", "y"])
    sup = suppress_small_cells(means, n=n, k=5)
    assert sup.table.loc["y", "a"] == MARK and sup.table.loc["x", "a"] == 3.1 and sup.n_primary == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), min_size=3, max_size=5), min_size=2, max_size=5).filter(
    lambda rows: len({len(r) for r in rows}) == 1))
def test_no_line_with_a_margin_has_exactly_one_hidden_cell(rows):
    inner = pd.DataFrame(rows, columns=[f"c{j}" for j in range(len(rows[0]))])
    inner["Total"] = inner.sum(axis=1)
    table = pd.concat([inner, inner.sum().to_frame("Total").T])
    table.index = [f"r{i}" for i in range(len(rows))] + ["Total"]
    sup = suppress_small_cells(table, k=5, total_row="Total", total_col="Total")
    hidden = sup.mask.iloc[:-1, :-1].to_numpy() != ""
    small = (table.iloc[:-1, :-1].to_numpy() > 0) & (table.iloc[:-1, :-1].to_numpy() < 5)
    assert (hidden | ~small).all()  # every small cell is hidden
    counts = table.iloc[:-1, :-1].to_numpy()
    for h, c in list(zip(hidden, counts)) + list(zip(hidden.T, counts.T)):
        # exactly one hidden cell is allowed only when every other cell of the line is zero
        assert h.sum() != 1 or (c[~h] == 0).all()


# --------------------------------------------------------------------------- identifiers

# GB 11643-1999's worked example of a citizen identity number; its check character is X
VALID_ID = "11010519491231002X"


def test_id_card_check_character():
    assert id_card_valid(VALID_ID)
    assert not id_card_valid("110105194912310021")  # wrong check character
    assert not id_card_valid("1101051949123100")  # too short


def test_scan_text_finds_planted_identifiers_only():
    text = (f"call 13812345678 or +86 139-1234-5678; id {VALID_ID}; "
            "values 0.13812345678 and 2013812345678901 and 110105194912310021 are not identifiers")
    kinds = sorted(f.kind for f in scan_text(text))
    assert kinds == ["id_card", "mobile", "mobile"]
    assert "138" in str(scan_text("13812345678")[0]) and "13812345678" not in str(scan_text("13812345678")[0])


def test_names_from_name_like_columns():
    tables = {"survey": pd.DataFrame({"respondent_id": ["R1"], "name": ["王小明"]}),
              "units": pd.DataFrame({"unit_id": ["C01"], "name_zh": ["阳光社区"]})}
    names = person_names(tables)
    assert names == {"王小明"}  # place names (name_zh of units) are not persons' names
    assert [f.kind for f in scan_text("受访者王小明表示满意", names)] == ["name"]


def test_scan_paths_reads_html_svg_and_xlsx(tmp_path):
    (tmp_path / "a.html").write_text("<p>no identifiers 2021 335 0.746</p>", encoding="utf-8")
    (tmp_path / "b.svg").write_text(f"<svg><text>{VALID_ID}</text></svg>", encoding="utf-8")
    wb = openpyxl.Workbook()
    wb.active.append(["phone", "13912345678"])
    wb.save(tmp_path / "c.xlsx")
    found = scan_paths([tmp_path])
    assert sorted((f.where, f.kind) for f in found) == [("b.svg", "id_card"), ("c.xlsx", "mobile")]
