"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
SEED = SHARED / "seed"
BUNDLED = ROOT / "data" / "zhangwan-synthetic"


def _shared_dir() -> Path:
    # CI copies shared/ beside the clone; a developer's checkout has it at ../shared too.
    if not SHARED.exists():
        pytest.fail(f"the shared reference folder is missing: expected {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _shared_dir() / "reference"


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    return _shared_dir() / "seed"


@pytest.fixture(scope="session")
def bundled_dir() -> Path:
    return BUNDLED
