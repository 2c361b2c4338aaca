"""Testing helpers: :class:`FakeLLMServer`, a real loopback server speaking the vendors'
wire formats, :class:`Reply` / :class:`Action` to script what it answers, and
:mod:`~llm_connectivity.testing.faults` with ready-made network and protocol faults."""

from . import faults
from .cassette import CassetteMismatchError, cassette
from .fake_server import FakeLLMServer, RecordedRequest
from .memory import FakeClock, MemoryRequest, MemoryResponse, MemoryTransport, ScriptExhaustedError
from .scripts import Action, Reply

__all__ = ["Action", "CassetteMismatchError", "FakeClock", "FakeLLMServer", "MemoryRequest", "MemoryResponse",
           "MemoryTransport", "RecordedRequest", "Reply", "ScriptExhaustedError", "cassette", "faults"]
