"""Cassettes: record real LLM exchanges once (bytes, timing, errors; secrets removed) and
replay them in tests. See ``docs/testing.md``.

    from llm_connectivity.testing import cassette

    with cassette("tests/cassettes/greeting", mode="once"):
        for chunk in client.chat_stream("Hi"):
            ...
"""

from .core import MODES, Cassette, cassette
from .errors import CassetteError, CassetteMismatchError, CassetteSecretError
from .matching import DEFAULT_MATCH_ON
from .storage import Interaction, Piece, RecordedError, load_cassette

__all__ = ["DEFAULT_MATCH_ON", "MODES", "Cassette", "CassetteError", "CassetteMismatchError", "CassetteSecretError",
           "Interaction", "Piece", "RecordedError", "cassette", "load_cassette"]
