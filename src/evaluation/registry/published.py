"""Reconciliation of a dataset with the figures the 2020 article publishes.

For every row of ``published_figures.csv`` this module says whether the data model has a
microdata counterpart, recomputes it from the registries as of 31 December of the reference year
(or over that year, for flows), and checks agreement by the figure's qualifier:

- ``exact``: the recomputed count equals the published one; a published share is met when the
  recomputed share rounds to it at the published number of decimals (92 % = 246 / 267);
- ``at_least``: Chinese "more than X" (X余, X多, X以上). For counts the recomputed value must lie in
  ``[X, X + p)`` where ``p`` is the place value of X's last non-zero digit ("200多" is 200-299,
  "6700多" is 6,700-6,799, "1000多万" is 10-20 million); for shares it must be at least X;
- ``rule``: a rule the article states (meeting periods, weekday duty, six-haves). Rules are not
  reproduced: they are *evaluated* by the indicators, and the synthetic district meets them
  imperfectly on purpose;
- ``none``: figures the data model does not hold (e.g. posts allotted by the city).

These are registry counts over a complete registry: exact numbers, no sampling error.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from importlib.resources import files

import numpy as np
import pandas as pd

from evaluation.periods import in_force
from evaluation.results import IndicatorResult, Summary, new_axes


def published_figures() -> pd.DataFrame:
    """The published figures (a copy of ``seed/published_figures.csv`` shipped with the package)."""
    with (files("evaluation") / "resources" / "published_figures.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def _end(year: int) -> pd.Timestamp:
    return pd.Timestamp(f"{year}-12-31")


def _orgs(t, org_type: str, year: int) -> int:
    o = t["party_orgs"]
    o = o[o["org_type"] == org_type]
    return int(in_force(o["established"], o["dissolved"], _end(year)).sum())


def _orgs_formed(t, org_type: str, year: int) -> int:
    o = t["party_orgs"]
    o = o[o["org_type"] == org_type]
    return int((o["established"].dt.year == year).sum())


def _milestone(t, name: str, year: int) -> int:
    m = t["compound_milestones"]
    m = m[m["milestone"] == name]
    ok = in_force(m["date"], m["ended"], _end(year))
    return int(m.loc[ok, "compound_id"].nunique())


def _postings(t, kind: str, year: int) -> int:
    p = t["postings"]
    p = p[p["posting_type"] == kind]
    started = p["start"].dt.year == year
    return int((started | in_force(p["start"], p["end"], _end(year))).sum())


def _facilities(t, ftype: str, year: int, unit_type: str | None = None, col: str | None = None, on: str = "opened"):
    f = t["facilities"]
    f = f[(f["facility_type"] == ftype) & (f[on].dt.year == year)]
    if unit_type is not None:
        ut = t["units"].set_index("unit_id")["unit_type"]
        f = f[f["unit_id"].map(ut) == unit_type]
    return float(f[col].sum()) if col else int(len(f))


def _registered(t, year: int) -> pd.DataFrame:
    m = t["party_members"]
    return m[m["in_service"].fillna(False).astype(bool) & (m["registered_on"] <= _end(year))]


def _funding(t, year: int, purpose: str | None = None, unit_type: str | None = None, source: str | None = None) -> pd.DataFrame:
    f = t["funding"]
    f = f[f["year"] == year]
    if purpose:
        f = f[f["purpose"] == purpose]
    if source:
        f = f[f["source"] == source]
    if unit_type:
        ut = t["units"].set_index("unit_id")["unit_type"]
        f = f[f["unit_id"].map(ut) == unit_type]
    return f


def _staffing(t, col: str, year: int) -> int:
    s = t["staffing"]
    return int(s.loc[s["year"] == year, col].sum())


def _red_share(t, year: int) -> float:
    return _milestone(t, "red_property", year) / len(t["compounds"])


def _plo_share(t, year: int) -> float:
    return _milestone(t, "party_led_owners_committee", year) / _milestone(t, "owners_committee", year)


#: figure key -> (how it is recomputed, function of (tables, year))
COUNTERPARTS: dict[str, tuple[str, Callable]] = {
    "pandemic_unposted_party_members": ("party members not in service (without a post) in the registry", lambda t, y: int((~t["party_members"]["in_service"].fillna(False).astype(bool)).sum())),
    "pandemic_temporary_branches": ("temporary_branch organisations formed in the year", lambda t, y: _orgs_formed(t, "temporary_branch", y)),
    "pandemic_commando_teams": ("commando_team organisations formed in the year", lambda t, y: _orgs_formed(t, "commando_team", y)),
    "street_party_working_committees": ("street working committees in force on 31 December", lambda t, y: _orgs(t, "street_working_committee", y)),
    "community_party_committees": ("community (big party) committees in force on 31 December", lambda t, y: _orgs(t, "community_committee", y)),
    "stationed_units_in_big_committees": ("stationed-unit organisations in big committees on 31 December", lambda t, y: _orgs(t, "stationed_unit", y)),
    "stationed_unit_leaders_part_time": ("postings of stationed-unit leaders in force or started in the year", lambda t, y: _postings(t, "stationed_unit_leader", y)),
    "compound_party_branches": ("compounds with a party branch on 31 December (= all compounds)", lambda t, y: _milestone(t, "party_branch", y)),
    "building_party_groups": ("buildings with a party group on 31 December", lambda t, y: int((t["buildings"]["party_group_since"] <= _end(y)).sum())),
    "compound_secretaries_sunk_members": ("compound branches whose secretary is a sunk member", lambda t, y: int(t["party_orgs"].query("org_type == 'compound_branch'")["secretary_is_sunk"].fillna(False).sum())),
    "building_group_leaders_sunk_members": ("building groups (formed by 31 December) with a sunk leader", lambda t, y: int(t["party_orgs"].query("org_type == 'building_group'").pipe(lambda o: o.loc[o["established"] <= _end(y), "secretary_is_sunk"]).fillna(False).sum())),
    "compound_branch_venues_first_batch": ("compounds with a branch venue on 31 December (first batch)", lambda t, y: _milestone(t, "branch_venue", y)),
    "red_property_compound_share": ("share of compounds under red property on 31 December", _red_share),
    "party_led_owners_committees": ("party-led owners committees in force on 31 December", lambda t, y: _milestone(t, "party_led_owners_committee", y)),
    "party_led_owners_committee_coverage": ("party-led over all owners committees in force on 31 December", _plo_share),
    "party_building_instructors": ("party-building instructor postings", lambda t, y: _postings(t, "party_building_instructor", y)),
    "red_stewards": ("buildings with a red steward", lambda t, y: int(t["buildings"]["red_steward"].fillna(False).sum())),
    "property_party_branches": ("compounds with a property-company party branch on 31 December", lambda t, y: _milestone(t, "property_party_branch", y)),
    "building_heads_and_centre_households": ("building heads plus party-member centre households", lambda t, y: int(t["buildings"]["building_head"].fillna(False).sum() + t["buildings"]["centre_households"].fillna(0).sum())),
    "rural_service_centres_upgraded": ("village service centres upgraded in the year", lambda t, y: _facilities(t, "service_centre", y, "village", on="upgraded")),
    "district_units_double_registration": ("employer units with members registered by 31 December", lambda t, y: int(_registered(t, y)["employer_org_id"].nunique())),
    "in_service_members_registered": ("in-service members registered with their community by 31 December", lambda t, y: int(len(_registered(t, y)))),
    "district_leaders_sunk": ("district-leader liaison postings", lambda t, y: _postings(t, "district_leader_liaison", y)),
    "sunk_members_in_compound_branches": ("registered (sunk) members living in a compound of the district", lambda t, y: int(_registered(t, y)["home_compound_id"].notna().sum())),
    "community_work_teams": ("community work teams formed in the year", lambda t, y: _orgs_formed(t, "work_team", y)),
    "temporary_party_organisations": ("temporary organisations of the work teams formed in the year", lambda t, y: _orgs_formed(t, "work_team_temporary_org", y)),
    "party_building_commissioners": ("party-building commissioner postings", lambda t, y: _postings(t, "party_building_commissioner", y)),
    "first_secretaries": ("first-secretary postings", lambda t, y: _postings(t, "first_secretary", y)),
    "public_health_commissioners": ("public-health commissioner postings in the year", lambda t, y: _postings(t, "public_health_commissioner", y)),
    "legal_commissioners": ("legal commissioner postings", lambda t, y: _postings(t, "legal_commissioner", y)),
    "community_worker_quota": ("sum of community-worker quotas", lambda t, y: _staffing(t, "quota", y)),
    "community_workers_hired": ("sum of community workers hired", lambda t, y: _staffing(t, "hired", y)),
    "community_worker_reserves": ("sum of reserves", lambda t, y: _staffing(t, "reserves", y)),
    "party_volunteer_teams": ("party volunteer teams formed by 31 December", lambda t, y: int((t["party_orgs"].query("org_type == 'volunteer_team'")["established"] <= _end(y)).sum())),
    "registered_volunteers": ("volunteers registered by 31 December (cumulative)", lambda t, y: int((t["volunteers"]["registered_on"] <= _end(y)).sum())),
    "volunteer_stations": ("volunteer stations opened by 31 December", lambda t, y: int(((t["facilities"]["facility_type"] == "volunteer_station") & (t["facilities"]["opened"] <= _end(y))).sum())),
    "new_fiscal_spending_yuan": ("district-funded allocations in the year minus the year before", lambda t, y: float(_funding(t, y, source="district")["amount_yuan"].sum() - _funding(t, y - 1, source="district")["amount_yuan"].sum())),
    "village_work_fund_yuan_per_year": ("work fund per village (mean over villages)", lambda t, y: float(_funding(t, y, "work_fund", "village")["amount_yuan"].mean())),
    "community_work_fund_yuan_per_year": ("work fund per urban community (mean over communities)", lambda t, y: float(_funding(t, y, "work_fund", "community")["amount_yuan"].mean())),
    "governance_special_fund_yuan": ("special governance fund allocated in the year", lambda t, y: float(_funding(t, y, "governance_special_fund")["amount_yuan"].sum())),
    "real_estate_projects_rooms_transferred": ("community rooms handed over in the year", lambda t, y: _facilities(t, "community_room", y)),
    "community_service_space_m2": ("area of the community rooms handed over in the year (m2)", lambda t, y: _facilities(t, "community_room", y, col="area_m2")),
    "party_complex_investment_yuan": ("investment in the party-building complexes opened in the year", lambda t, y: _facilities(t, "party_complex", y, col="investment_yuan")),
    "party_building_complexes": ("party-building complexes opened in the year", lambda t, y: _facilities(t, "party_complex", y)),
}


#: figures whose qualifier says "at least" but which state a rule ("every community, every weekday")
STATED_AS_AT_LEAST = frozenset({"weekday_sunk_cadre_on_duty"})


def _place_value(x: float) -> float:
    """Place value of the last non-zero digit of a round number (200 -> 100, 6700 -> 100)."""
    x = abs(int(round(x)))
    if x == 0:
        return 1.0
    p = 1
    while x % (p * 10) == 0:
        p *= 10
    return float(p)


def agrees(published: float, recomputed: float, qualifier: str, unit: str) -> bool:
    """Does ``recomputed`` agree with the published figure under its qualifier (module docstring)?"""
    if recomputed is None or (isinstance(recomputed, float) and math.isnan(recomputed)):
        return False
    is_share = "share" in unit or (0 < published < 1)
    if qualifier == "exact":
        if is_share:
            decimals = len(str(published).split(".")[1]) if "." in str(published) else 0
            return round(recomputed, decimals) == published
        return math.isclose(recomputed, published, rel_tol=0, abs_tol=1e-9)
    if qualifier == "at_least":
        if is_share:
            return recomputed >= published
        return published <= recomputed < published + _place_value(published)
    return False


def _fmt(value: float, kind: str) -> str:
    if kind not in ("count", "share") or value != value:
        return ""
    return f"{value:.4f}" if kind == "share" else f"{value:,.0f}"


class Reconciliation(IndicatorResult):
    """Published figures beside the values recomputed from the microdata.

    ``table`` has one row per published figure: ``key``, ``meaning_en``, ``quote_zh``, ``pillar``,
    ``qualifier``, ``published``, ``recomputed``, ``kind`` (count, share, rule, none), ``agrees``,
    ``how`` and ``recomputed_text``.
    """

    def __init__(self, table: pd.DataFrame, year: int):
        super().__init__(table=table, title=f"Reconciliation with the published {year} figures",
                         method="registry counts as of 31 December (or over the year), compared under each "
                                "figure's qualifier (exact, at least)")
        self.year = year

    def sentence(self) -> str:
        """The reconciliation in one sentence."""
        t = self.table
        with_cp = t[t["kind"].isin(["count", "share"])]
        return (f"Reconciliation with the published {self.year} figures: {len(t)} figures; "
                f"{len(with_cp)} with a microdata counterpart, {int(with_cp['agrees'].sum())} agree; "
                f"{int((t['kind'] == 'rule').sum())} rules (evaluated by indicators, not reproduced); "
                f"{int((t['kind'] == 'none').sum())} without a counterpart in the data model.")

    def summary_lines(self) -> list[str]:
        """The summary's one line: :meth:`sentence` (figures, those with a counterpart, agreements, rules)."""
        return [self.sentence()]

    def summary(self) -> str:
        """The reconciliation in one sentence (a :class:`~evaluation.results.Summary`)."""
        return Summary(self.title, self.summary_lines(), self.notes)

    def plot(self, *, ax=None):
        """Figures by pillar: agreeing, disagreeing, rules and those without a counterpart; returns the Axes."""
        t = self.table.assign(state=np.select([self.table["agrees"].fillna(False).astype(bool),
                                               self.table["kind"].isin(["count", "share"]),
                                               self.table["kind"].eq("rule")],
                                              ["agrees", "differs", "rule"], "no counterpart"))
        counts = t.groupby(["pillar", "state"]).size().unstack(fill_value=0)
        ax = new_axes(ax, (6, 0.45 * len(counts) + 1.2))
        left = np.zeros(len(counts))
        for state in [s for s in ("agrees", "differs", "rule", "no counterpart") if s in counts]:
            ax.barh(counts.index, counts[state], left=left, label=state)
            left = left + counts[state].to_numpy()
        ax.set_xlabel("published figures")
        ax.legend(fontsize="small")
        return ax

    def _repr_html_(self) -> str:
        cols = ["key", "quote_zh", "qualifier", "published", "recomputed_text", "kind", "agrees"]
        return f"<p>{html.escape(self.sentence())}</p>" + self.table[cols].to_html(index=False, na_rep="")


def reconcile(tables: Mapping[str, pd.DataFrame], year: int = 2020) -> Reconciliation:
    """Recompute every published figure that has a microdata counterpart.

    Parameters
    ----------
    tables
        Typed tables (a :class:`~evaluation.dataset.Dataset` or a dict of DataFrames).
    year
        Reference year of the published figures (the article reports 2020).
    """
    pub = published_figures()
    rows = []
    for r in pub.itertuples():
        if r.key in RULE_KEYS:
            kind, how, value, ok = "rule", "evaluated by the indicators (not reproduced)", np.nan, None
        elif r.key in COUNTERPARTS:
            how, fn = COUNTERPARTS[r.key]
            value = float(fn(tables, year))
            published = float(r.value)
            kind = "share" if ("share" in r.unit or 0 < published < 1) else "count"
            ok = agrees(published, value, r.qualifier, r.unit)
        else:
            kind, how, value, ok = "none", "not held in the data model", np.nan, None
        rows.append({"key": r.key, "meaning_en": r.meaning_en, "quote_zh": r.quote_zh, "pillar": r.pillar,
                     "qualifier": r.qualifier, "published": r.value, "recomputed": value, "kind": kind,
                     "agrees": ok, "how": how})
    df = pd.DataFrame(rows)
    df["agrees"] = df["agrees"].astype("boolean")
    df["recomputed_text"] = [_fmt(v, k) for v, k in zip(df["recomputed"], df["kind"])]
    return Reconciliation(df, year)


# --------------------------------------------------------------------------- beside the registry indicators

#: published figure key (``published_figures.csv``) -> (registry indicator, column of its district row)
PUBLISHED_COUNTERPARTS = {
    "compound_party_branches": ("org.compound_branch_coverage", "numerator"),
    "building_party_groups": ("org.building_group_coverage", "numerator"),
    "community_party_committees": ("org.big_committee_coverage", "numerator"),
    "compound_branch_venues_first_batch": ("org.branch_venue_coverage", "numerator"),
    "in_service_members_registered": ("org.double_registration_rate", "numerator"),
    "red_property_compound_share": ("par.red_property_coverage", "value"),
    "party_led_owners_committees": ("par.party_led_oc_coverage", "numerator"),
    "party_led_owners_committee_coverage": ("par.party_led_oc_coverage", "value"),
    "registered_volunteers": ("par.volunteers_per_1000", "numerator"),
    "community_worker_quota": ("sup.worker_quota_fill", "denominator"),
    "community_workers_hired": ("sup.worker_quota_fill", "numerator"),
    "community_work_fund_yuan_per_year": ("sup.funding_per_community", "value"),
    "village_work_fund_yuan_per_year": ("sup.funding_per_village", "value"),
    # rules the article states: the registry measures how far they are met (1 = always)
    "weekday_sunk_cadre_on_duty": ("org.weekday_duty_coverage", "value"),
    "big_committee_meeting_period": ("dem.meeting_cadence_compliance.big_committee_joint", "value"),
    "three_party_meeting_period": ("dem.meeting_cadence_compliance.three_party", "value"),
    "resident_deliberation_period": ("dem.meeting_cadence_compliance.resident_deliberation", "value"),
    "branch_standard_six_haves": ("org.branch_standardisation", "value"),
}

#: published figures that state a rule (qualifier ``rule``, or "at least" for a rule): the
#: registry measures how far they are met, it does not reproduce them
RULE_KEYS = frozenset(published_figures().query("qualifier == 'rule'")["key"]) | STATED_AS_AT_LEAST


def beside_published(result: IndicatorResult | pd.DataFrame, figures: pd.DataFrame | None = None) -> pd.DataFrame:
    """The article's figures beside the district registry indicators that correspond to them.

    Parameters
    ----------
    result
        Registry indicators of the article's year (2020) with district rows (a result or its table).
    figures
        The published figures (default: :func:`published_figures`).

    Returns
    -------
    DataFrame, one row per figure in :data:`PUBLISHED_COUNTERPARTS` whose indicator is in
    ``result``: ``key``, ``quote_zh``, ``meaning_en``, ``qualifier``, ``published`` (as printed),
    ``indicator``, ``compared`` (the column of the district row: a count or the value),
    ``registry`` (that number), ``value`` (the indicator's value), ``agrees`` (under the figure's
    qualifier, :func:`agrees`; for a rule, whether it is met every time,
    i.e. the compliance share is 1).
    """
    table = result.table if isinstance(result, IndicatorResult) else result
    figs = (published_figures() if figures is None else figures).set_index("key")
    district = table[table["level"].eq("district")].set_index("indicator")
    rows = []
    for key, (iid, col) in PUBLISHED_COUNTERPARTS.items():
        if key not in figs.index or iid not in district.index:
            continue
        f = figs.loc[key]
        got = float(district.loc[iid, col])
        if key in RULE_KEYS:
            ok = bool(got >= 1.0 - 1e-12)
        else:
            ok = agrees(float(f["value"]), got, str(f["qualifier"]), str(f["unit"]))
        rows.append({"key": key, "quote_zh": f["quote_zh"], "meaning_en": f["meaning_en"],
                     "qualifier": f["qualifier"], "published": f["value"], "indicator": iid, "compared": col,
                     "registry": got, "value": float(district.loc[iid, "value"]), "agrees": ok})
    out = pd.DataFrame(rows, columns=["key", "quote_zh", "meaning_en", "qualifier", "published", "indicator",
                                      "compared", "registry", "value", "agrees"])
    out["agrees"] = out["agrees"].astype("boolean")
    return out
