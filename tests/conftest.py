"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: public reference data with published results (R survey, did, survival; real 311 exports)
REFERENCE = ROOT / "data" / "reference"
#: the article and the figures it publishes
SEED = ROOT / "data" / "seed"
BUNDLED = ROOT / "data" / "zhangwan-synthetic"
#: the design brief (indicator ids, data model, command line)
DESIGN = ROOT / "docs" / "design.md"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    return SEED


@pytest.fixture(scope="session")
def bundled_dir() -> Path:
    return BUNDLED
