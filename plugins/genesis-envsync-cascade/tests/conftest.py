"""Fixtures for the Cascade tests (helpers live in ``cascade_testkit``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the cascade_* helper modules

from cascade_testkit import open_bus


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def bus(state_dir: Path) -> Iterator[Any]:
    handle = open_bus(state_dir)
    yield handle
    handle.close()

