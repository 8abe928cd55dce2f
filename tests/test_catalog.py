"""The indicator catalogue: complete against DESIGN.md section 4, valid, bilingual."""

from __future__ import annotations

import re

import pytest
import yaml

from evaluation import catalog
from evaluation.dataset.schema import COMPARATORS


@pytest.fixture(scope="module")
def design_ids(seed_dir):
    text = (seed_dir.parents[1] / "docs" / "design.md").read_text(encoding="utf-8")
    section = text[text.index("## 4. Indicators"):text.index("## 5.")]
    ids = set(re.findall(r"`((?:org|svc|dem|par|sup|out)\.[a-z0-9_]+)`", section))
    assert len(ids) >= 25  # the brief lists 26 ids
    return ids


def test_every_design_id_is_catalogued(design_ids):
    missing = design_ids - set(catalog.CATALOG)
    assert not missing, f"DESIGN.md section 4 ids missing from catalog.yaml: {sorted(missing)}"


def test_entries_are_bilingual_and_complete():
    for iid, e in catalog.CATALOG.items():
        assert e.name_en and e.name_zh, iid
        assert re.search(r"[\u4e00-\u9fff]", e.name_zh), f"{iid}: name_zh has no Chinese"
        assert e.numerator, iid
        assert e.pillar == catalog._PREFIX[iid.split(".")[0]]
        if e.target is not None:
            assert e.target.comparator in COMPARATORS and e.target.source, iid
        if e.unit == "share":
            assert e.scale == 1, iid


def test_targets_from_the_article_and_hubei_plan():
    # article: 60 % red property, 92 % party-led committees, 300,000 / 80,000 yuan work funds
    assert catalog.get("par.red_property_coverage").target.value == 0.60
    assert catalog.get("par.party_led_oc_coverage").target.value == 0.92
    assert catalog.get("sup.funding_per_community").target.value == 300000
    assert catalog.get("sup.funding_per_village").target.value == 80000
    # Hubei 14th five-year plan: 18 workers per 10,000 urban residents, 30 m2 per 100 households
    w, s = catalog.get("sup.workers_per_10k"), catalog.get("sup.service_space_per_100hh")
    assert (w.target.value, w.target.comparator, w.scale) == (18, ">=", 10000)
    assert (s.target.value, s.target.comparator, s.scale) == (30, ">=", 100)
    assert "hubei" in w.target.source and "hubei" in s.target.source
    assert catalog.get("sup.workers_per_10k").target.met(18.0) is True
    assert catalog.get("sup.workers_per_10k").target.met(17.9) is False
    assert catalog.get("sup.workers_per_10k").target.met(float("nan")) is None


def test_labels_messages_patterns_and_fallbacks():
    assert catalog.label("par.party_led_oc_coverage", "zh") == "党建主导型业委会覆盖率"
    assert catalog.label("par.party_led_oc_coverage") == "Party-led owners committees"
    assert catalog.message("met", "zh") == "达标" and catalog.message("not_met", "en") == "not met"
    assert catalog.message("no such key") == "no such key"
    # impact ids are labelled by the imp.* pattern; unknown breakdowns fall back to their parent
    assert catalog.get("imp.att_satisfaction").pillar == "impact"
    # the longest pattern wins: impact ids are imp.<milestone>.<outcome>.<aggregation>
    red = catalog.get("imp.red_property.satisfaction.simple")
    assert red.name_en == "Effect of red-property adoption: satisfaction.simple" and red.scope == "urban"
    assert catalog.label("imp.policy.x", "zh") == "政策效应: policy.x"
    sub = catalog.get("svc.resolution_rate.by_category")
    assert sub.pillar == "service" and sub.direction == "higher"
    assert catalog.label("zzz.unknown") == "zzz.unknown"
    with pytest.raises(KeyError, match="not in the catalogue"):
        catalog.get("zzz.unknown")
    with pytest.raises(ValueError, match="unknown language"):
        catalog.label("svc.backlog", "fr")
    assert "imp.*" not in catalog.ids() and "svc.backlog" in catalog.ids("service")
    assert {"target", "comparator", "target_source"} <= set(catalog.catalog_frame().columns)
    assert len(catalog.default_targets(2020)) == sum(e.target is not None for e in catalog.CATALOG.values())


def test_every_message_has_both_languages():
    for key, val in catalog.MESSAGES.items():
        assert val["en"] and val["zh"], key
    for p in catalog.PILLARS:
        assert p in catalog.MESSAGES


ENTRY = {"id": "org.x", "name_en": "X", "name_zh": "某", "pillar": "organisation", "numerator": "a",
         "denominator": "b", "levels": ["district"], "scope": "all", "period": "stock", "direction": "higher",
         "unit": "share", "scale": 1, "needs": ["units"]}


@pytest.mark.parametrize("change, match", [
    ({"pillar": "service"}, "does not match pillar"),
    ({"direction": "up"}, "direction 'up' is not one of"),
    ({"levels": ["county"]}, "levels must be"),
    ({"target": {"value": 1, "comparator": "=>", "source": "s"}}, "comparator '=>'"),
    ({"target": {"value": 1}}, "target needs"),
    ({"needs": ["ledger"]}, "needs 'ledger': not a table"),
    ({"needs": ["units.colour"]}, "needs 'units.colour': not a table"),
])
def test_validation_names_entry_and_field(change, match):
    with pytest.raises(ValueError, match=match):
        catalog.parse_catalog([{**ENTRY, **change}], "cat.yaml")
    with pytest.raises(ValueError, match="duplicate id"):
        catalog.parse_catalog([ENTRY, ENTRY])
    with pytest.raises(ValueError, match="missing field"):
        catalog.parse_catalog([{k: v for k, v in ENTRY.items() if k != "unit"}])
    with pytest.raises(ValueError, match="exactly the languages"):
        catalog.parse_messages({"x": {"en": "x"}})


def test_catalog_file_is_plain_yaml():
    from importlib.resources import files

    raw = yaml.safe_load((files("evaluation.catalog") / "catalog.yaml").read_text(encoding="utf-8"))
    assert [e["id"] for e in raw] == list(catalog.CATALOG)
