"""pytest plugin (entry point ``pytest11``): record LLM exchanges once, replay them in CI.

- ``@pytest.mark.llm_cassette`` (optionally ``("name", mode=..., match_on=..., speed=...)``)
  runs the test under a :func:`~llm_connectivity.testing.cassette`; so does requesting the
  ``llm_cassette`` fixture, which yields the :class:`~llm_connectivity.testing.cassette.Cassette`.
- Cassettes live next to the test module: ``cassettes/<module>/<name>/`` (name: the test's
  name, ``TestClass.test_x`` in a class, parameters as ``test_x_1``, unless the marker
  gives one; ``path=`` sets the directory itself, relative to the test module's directory
  unless absolute, so the place does not depend on where pytest was started).
- ``--llm-record-mode=none|once|new_episodes|all`` (ini: ``llm_record_mode``; default
  ``once``). CI uses ``none``: nothing is recorded, an unrecorded request fails the test.
  A marker's ``mode=`` overrides the ini default but not the command line.
- When a cassette only replays, provider key variables that are not set (``OPENAI_API_KEY``,
  ``ANTHROPIC_API_KEY``...) are set to a dummy value for the test, so clients built from the
  environment do not raise ``MissingAPIKeyError``; no real key is ever needed to replay.
- With pytest-xdist each worker process records the tests it runs; every cassette is
  written atomically (a temporary directory renamed into place).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .cassette import Cassette

__all__ = ["llm_cassette"]

_MODES = ("none", "once", "new_episodes", "all")
DUMMY_KEY = "replay-dummy-key"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--llm-record-mode`` and the ``llm_record_mode`` ini option."""
    group = parser.getgroup("llm_connectivity", "llm_connectivity cassettes")
    group.addoption("--llm-record-mode", choices=_MODES, default=None, dest="llm_record_mode",
                    help="how llm_cassette tests use their cassettes (default: once; CI: none)")
    parser.addini("llm_record_mode", "default record mode for llm_cassette tests", default="once")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker."""
    config.addinivalue_line(
        "markers", "llm_cassette(name=None, *, mode=None, match_on=None, speed=None): record or replay the "
        "test's LLM exchanges in cassettes/<module>/<name>/ next to the test module")


def _mode(config: pytest.Config) -> str:
    mode = config.getoption("llm_record_mode") or config.getini("llm_record_mode") or "once"
    if mode not in _MODES:
        raise pytest.UsageError(f"llm_record_mode must be one of {', '.join(_MODES)}, not {mode!r}")
    return str(mode)


def _provider_key_variables() -> list[str]:
    from ..providers.catalog import OPENAI_COMPATIBLE

    names = [row.key_env[0] for row in OPENAI_COMPATIBLE if row.key_env]
    return names + ["ANTHROPIC_API_KEY", "GEMINI_API_KEY"]


def cassette_for(request: pytest.FixtureRequest) -> Cassette:
    """The cassette a test uses (marker arguments, command-line mode, default path)."""
    from .cassette import Cassette

    marker = request.node.get_closest_marker("llm_cassette")
    args: tuple[Any, ...] = marker.args if marker is not None else ()
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    test_name = request.node.nodeid.split("::", 1)[-1].replace("::", ".")  # TestClass.test_x[param]
    name = str(args[0]) if args else re.sub(r"[^\w.-]+", "_", test_name).strip("_")
    module = Path(str(request.node.path))
    path = module.parent / (kwargs.pop("path", None) or Path("cassettes", module.stem, name))  # relative: to the module
    options = {key: value for key, value in kwargs.items() if value is not None}
    if request.config.getoption("llm_record_mode"):  # the command line wins (CI: none stays none)
        options["mode"] = request.config.getoption("llm_record_mode")
    options.setdefault("mode", _mode(request.config))
    return Cassette(path, **options)


@contextmanager
def _active(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    cas = cassette_for(request)
    replay_only = cas.mode == "none" or (cas.mode == "once" and cas.path.is_dir())
    with pytest.MonkeyPatch.context() as patch:
        if replay_only:
            import os

            for name in _provider_key_variables():
                if not os.environ.get(name):
                    patch.setenv(name, DUMMY_KEY)
        with cas:
            yield cas


@pytest.fixture
def llm_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test runs under its cassette (see the module docstring); yields the Cassette."""
    with _active(request) as cas:
        yield cas


@pytest.fixture(autouse=True)
def _llm_cassette_marker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests marked ``llm_cassette`` that do not request the fixture get their cassette too."""
    if request.node.get_closest_marker("llm_cassette") is None or "llm_cassette" in request.fixturenames:
        yield
        return
    with _active(request):
        yield
