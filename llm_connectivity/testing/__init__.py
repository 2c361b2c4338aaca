"""Testing helpers: :class:`FakeLLMServer`, a real loopback server speaking the vendors'
wire formats, and :class:`Reply` / :class:`Action` to script what it answers."""

from .fake_server import FakeLLMServer, RecordedRequest
from .scripts import Action, Reply

__all__ = ["Action", "FakeLLMServer", "RecordedRequest", "Reply"]
