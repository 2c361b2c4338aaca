"""Suite-wide fixtures: no provider keys or base URLs leak in from the environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for fixture_support

_ENV_SUFFIXES = ("_API_KEY", "_BASE_URL")


@pytest.fixture(autouse=True)
def _clean_provider_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("live"):
        return
    import os

    for name in list(os.environ):
        if name.endswith(_ENV_SUFFIXES) or name.startswith("STREAMING_"):
            monkeypatch.delenv(name, raising=False)
