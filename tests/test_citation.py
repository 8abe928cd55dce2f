"""CITATION.cff: valid Citation File Format metadata, in step with the package version of pyproject.toml."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _cff() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_citation_version_is_the_package_version():
    assert str(_cff()["version"]) == _project()["version"]


def test_citation_has_a_release_date():
    released = _cff()["date-released"]
    if isinstance(released, str):
        released = dt.date.fromisoformat(released)
    assert isinstance(released, dt.date)
    assert dt.date(2020, 1, 1) <= released <= dt.date.today()


def test_citation_is_valid_cff():
    cff = _cff()
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "type", "license"):
        assert cff.get(key), key
    assert cff["type"] == "software"
    assert all(a.get("name") or a.get("family-names") for a in cff["authors"])
    assert cff["license"] == _project()["license"]
