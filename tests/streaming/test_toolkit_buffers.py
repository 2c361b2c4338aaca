"""Buffers: exact concatenation on adversarial text, the piece boundaries users see,
bounded holds, max_delay, pass-through order of non-text chunks, flush on errors, closing."""

from __future__ import annotations

import doctest
import os
import threading
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from functools import partial

import pytest
from toolkit_support import (
    FINAL_USAGE,
    Boom,
    ClosableSource,
    QuarterCounter,
    contents,
    joined,
    split_every,
    text_chunks,
    with_signals,
)

import llm_connectivity.streaming as streaming
from llm_connectivity.errors import ConfigurationError
from llm_connectivity.models import StreamChunk, Usage
from llm_connectivity.streaming import (
    CharacterBuffer,
    SentenceBuffer,
    TokenBuffer,
    WordBuffer,
    buffer_characters,
    buffer_sentences,
    buffer_tokens,
    buffer_words,
)
from llm_connectivity.streaming.graphemes import split_graphemes

Wrapper = Callable[[Iterable[StreamChunk]], Iterator[StreamChunk]]
BUFFERS: dict[str, Wrapper] = {
    "words": buffer_words,
    "sentences": buffer_sentences,
    "characters": buffer_characters,
    "tokens": partial(buffer_tokens, n=3),
}

ADVERSARIAL = [
    "Hello  world\t\ttabs\n\nnew paragraph",
    "  leading spaces and trailing spaces   ",
    "last word without space",
    "Unicode: naïve café, ñandú, Ελληνικά, русский текст.",
    "Emoji 👍🏽 and 👩‍💻 and flags 🇫🇷🇩🇪 and e\u0301 combining.",
    "CRLF line\r\nnext line\rold mac\nunix",
    "你好世界。这是一个测试！没有空格的句子很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长。",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำซึ่งทำให้การแบ่งคำเป็นเรื่องยากมากสำหรับโปรแกรมคอมพิวเตอร์",
    "supercalifragilisticexpialidocious" * 3,
    "Dr. Who paid $3.14 for v1.2.3 at https://ex.com/a.b?c=d. Mail a.b@c.io... then! ```x. Y```",
    "",
    " ",
    "\n",
]


@pytest.mark.parametrize("name", sorted(BUFFERS))
@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_concatenation_is_exact(name: str, text: str, size: int) -> None:
    out = list(BUFFERS[name](text_chunks(split_every(text, size))))
    assert joined(out) == text
    assert all(c.content for c in out)  # no empty text chunks are invented


# -- words -------------------------------------------------------------------------------------------
WORD_CASES = [
    (["Hel", "lo wor", "ld"], ["Hello", " world"]),
    (["Hello", " ", " world", "\n\nNext"], ["Hello", "  world", "\n\nNext"]),
    (["  lead", "ing", " "], ["  leading", " "]),
    (["a\tb\nc "], ["a", "\tb", "\nc", " "]),
    (["你好", "世界 ok"], ["你", "好", "世", "界", " ok"]),
    (["word", "你", "。", "next"], ["word", "你", "。", "next"]),
    ([" naïve", " 日本", " 🙂", "\u3000x"], [" naïve", " 日", "本", " 🙂", "\u3000x"]),
    (["x" * 40], ["x" * 32, "x" * 8]),
    (["It", "'s", " 3", ".14", "!"], ["It's", " 3.14!"]),
]


@pytest.mark.parametrize("pieces, expected", WORD_CASES)
def test_word_pieces(pieces: list[str], expected: list[str]) -> None:
    assert contents(buffer_words(text_chunks(pieces))) == expected


def test_words_release_cjk_and_thai_without_waiting_for_the_end() -> None:
    thai = "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำซึ่งทำให้การแบ่งคำเป็นเรื่องยากมาก"
    words = WordBuffer(max_chars=10)
    released = [piece for ch in thai for piece in words.feed(ch)]
    assert released and all(len(p) <= 10 for p in released)
    assert len(thai) - len("".join(released)) <= 10  # at most max_chars held at any time
    assert "".join(released + words.flush()) == thai
    chinese = WordBuffer()
    assert [chinese.feed(ch) for ch in "你好吗"] == [[], ["你"], ["好"]]  # one character held: a mark may follow


def test_a_word_that_arrived_as_one_chunk_is_passed_on_as_that_chunk() -> None:
    chunks = text_chunks(["Hello", " big", " wor", "ld", "!"])
    out = list(buffer_words(chunks))
    assert [c.content for c in out] == ["Hello", " big", " world!"]
    assert out[0] is chunks[0] and out[1] is chunks[1]
    assert out[2].index == 4  # a new chunk, numbered after the chunk that completed it


def test_single_cjk_characters_pass_on_as_their_chunks() -> None:
    chunks = text_chunks([" one", " 日", "本", "語", " two"])
    out = list(buffer_words(chunks))
    assert [c.content for c in out] == [" one", " 日", "本", "語", " two"]
    assert all(o is c for o, c in zip(out, chunks))  # no chunk rebuilt


def test_word_cut_never_splits_a_grapheme() -> None:
    text = "e\u0301" * 40  # 80 code points, 40 clusters
    pieces = contents(buffer_words(text_chunks([text]), max_chars=5))
    assert "".join(pieces) == text
    assert all(not p.startswith("\u0301") for p in pieces)


# -- sentences ---------------------------------------------------------------------------------------
SENTENCE_CASES = [
    ("Hello world. How are you? Fine!", ["Hello world. ", "How are you? ", "Fine!"]),
    ("Dr. Smith and Mr. Jones met Mrs. Lee. They talked.", ["Dr. Smith and Mr. Jones met Mrs. Lee. ", "They talked."]),
    ("Use e.g. this or i.e. that. Done.", ["Use e.g. this or i.e. that. ", "Done."]),
    ("He lives in the U.S. now. Yes.", ["He lives in the U.S. now. ", "Yes."]),
    ("Pi is 3.14 and v1.2.3 shipped. Next.", ["Pi is 3.14 and v1.2.3 shipped. ", "Next."]),
    ("Wait... what happened? Nothing.", ["Wait... what happened? ", "Nothing."]),
    ("It ended... Then it began.", ["It ended... ", "Then it began."]),
    ("See https://example.com/a.b?x=1. Then go.", ["See https://example.com/a.b?x=1. ", "Then go."]),
    ("Mail jane.doe@example.co.uk today. Thanks.", ["Mail jane.doe@example.co.uk today. ", "Thanks."]),
    ('He said "Stop." Then left.', ['He said "Stop." ', "Then left."]),
    ("(It works.) Really?! Yes.", ["(It works.) ", "Really?! ", "Yes."]),
    ("First para\n\nSecond para", ["First para\n\n", "Second para"]),
    ("你好。我很好！谢谢？好的", ["你好。", "我很好！", "谢谢？", "好的"]),
    ("「你好。」他说", ["「你好。」", "他说"]),
    ("Code:\n```py\nx = 1. Y = 2.\n\nz = 3\n```\nAfter. End.",
     ["Code:\n", "```py\nx = 1. Y = 2.\n\nz = 3\n```\n", "After. ", "End."]),
    ("~~~\na. B.\n~~~", ["~~~\na. B.\n~~~"]),
    ("Steps:\n1. Open it.\n2. Close it.", ["Steps:\n", "1. Open it.\n", "2. Close it."]),
    # Markdown list items and headings start a new piece at a single line break
    ("Tips:\n- drink water\n* sleep well\n  + rest\n1) run\nthe end", [
        "Tips:\n", "- drink water\n", "* sleep well\n", "  + rest\n", "1) run\nthe end"]),  # a lazy continuation
    ("## Summary\nIt works well\n### Next\nmore text", ["## Summary\n", "It works well\n", "### Next\n", "more text"]),
    ("Not lists:\n-5 degrees\n3.5 kg\n#hashtag\n---\nend", ["Not lists:\n-5 degrees\n3.5 kg\n#hashtag\n---\nend"]),
    ("it is 5 m. Then stop.", ["it is 5 m. ", "Then stop."]),
    # a fence right after a sentence stop and a line break (or a paragraph break) is still a fence
    ("Before.\n```\ncode. More. \n\nX.\n```\nAfter. Done.",
     ["Before.\n", "```\ncode. More. \n\nX.\n```\n", "After. ", "Done."]),
    ("Before!\n\n```py\na. B.\n```\n\nAfter.", ["Before!\n\n", "```py\na. B.\n```\n\n", "After."]),
    ("Before?\n   ~~~\na. B.\n   ~~~\nAfter.", ["Before?\n", "   ~~~\na. B.\n   ~~~\n", "After."]),
    ("完了。\n```\na. B.\n```\n", ["完了。\n", "```\na. B.\n```\n"]),
    # a fence closes only with a line of the same character, at least as long, and nothing else
    ("Show:\n````md\n```py\nx = 1. Y.\n```\n````\nDone. Next.",
     ["Show:\n", "````md\n```py\nx = 1. Y.\n```\n````\n", "Done. ", "Next."]),
    ("```\na. B.\n~~~\n```py\nc. D.\n```\nEnd. Yes.", ["```\na. B.\n~~~\n```py\nc. D.\n```\n", "End. ", "Yes."]),
    ("```x``` is inline. Next one.", ["```x``` is inline. ", "Next one."]),  # backticks in the "info string"
    # the sentence stops of other scripts: Arabic question mark, Urdu full stop, Devanagari danda
    ("كيف حالك؟ أنا بخير. شكرا", ["كيف حالك؟ ", "أنا بخير. ", "شكرا"]),
    ("یہ اچھا ہے۔ اگلا جملہ", ["یہ اچھا ہے۔ ", "اگلا جملہ"]),
    ("यह अच्छा है। अगला वाक्य॥ और", ["यह अच्छा है। ", "अगला वाक्य॥ ", "और"]),
]


@pytest.mark.parametrize("text, expected", SENTENCE_CASES, ids=[c[0][:24] for c in SENTENCE_CASES])
@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_sentence_pieces(text: str, expected: list[str], size: int) -> None:
    assert contents(buffer_sentences(text_chunks(split_every(text, size)))) == expected


def test_sentences_bound_a_run_without_boundaries() -> None:
    text = " ".join(["word"] * 200)
    pieces = contents(buffer_sentences(text_chunks(split_every(text, 3)), max_chars=50))
    assert "".join(pieces) == text
    assert all(len(p) <= 50 for p in pieces)
    assert all(p.endswith(" ") for p in pieces[:-1])  # cut after whitespace


def test_sentences_do_not_bound_inside_a_code_fence() -> None:
    code = "```\n" + "x = 1\n" * 30 + "```\n"
    pieces = contents(buffer_sentences(text_chunks(split_every(code + "Done.", 4)), max_chars=20))
    assert pieces == [code, "Done."]


def test_sentence_buffer_without_a_generator() -> None:
    seg = SentenceBuffer()
    assert seg.feed("One. Tw") == ["One. "]
    assert seg.held
    assert seg.feed("o. ") == []  # "Two. " could still be followed by lowercase
    assert seg.flush() == ["Two. "]
    assert not seg.held


# -- characters and tokens ---------------------------------------------------------------------------
def test_characters_keep_clusters_split_across_chunks() -> None:
    # thumbs-up + skin tone, woman + ZWJ + laptop, two flags, e + combining acute: cut everywhere
    text = "a👍🏽👩‍💻🇫🇷🇩🇪e\u0301\r\nz"
    out = contents(buffer_characters(text_chunks(list(text))))
    assert out == ["a", "👍🏽", "👩‍💻", "🇫🇷", "🇩🇪", "e\u0301", "\r\n", "z"]
    assert split_graphemes(text) == out


GRAPHEME_CASES = [  # expected clusters as the regex module's \X (Unicode 15.1) gives them
    ("น้ำใจ", ["น้ำ", "ใ", "จ"]),  # Thai SARA AM is a spacing mark, not a letter
    ("ນ້ຳ", ["ນ້ຳ"]),  # Lao AM likewise
    ("क्षत्रिय", ["क्ष", "त्रि", "य"]),  # Devanagari conjuncts: consonant + virama + consonant
    ("স্বাগতম", ["স্বা", "গ", "ত", "ম"]),
    ("ગુજરાતી", ["ગુ", "જ", "રા", "તી"]),
    ("ଓଡ଼ିଆ", ["ଓ", "ଡ଼ି", "ଆ"]),
    ("తెలుగు", ["తె", "లు", "గు"]),
    ("മലയാളം", ["മ", "ല", "യാ", "ളം"]),
    ("שָׁלוֹם עולם", ["שָׁ", "ל", "וֹ", "ם", " ", "ע", "ו", "ל", "ם"]),
    ("مَرْحَبًا", ["مَ", "رْ", "حَ", "بً", "ا"]),
    ("a\n\u0301\r\n\u0301", ["a", "\n", "\u0301", "\r\n", "\u0301"]),  # nothing attaches to a line break
    ("a\ud83d\udc4db", ["a", "\ud83d\udc4d", "b"]),  # 👍 as two JSON surrogate escapes: kept together
]


@pytest.mark.parametrize("text, clusters", GRAPHEME_CASES)
def test_characters_of_thai_lao_indic_and_rtl_scripts(text: str, clusters: list[str]) -> None:
    assert split_graphemes(text) == clusters
    for cut in range(1, len(text)):
        assert contents(buffer_characters(text_chunks([text[:cut], text[cut:]]))) == clusters


def test_character_buffer_holds_only_the_last_cluster() -> None:
    chars = CharacterBuffer()
    assert chars.feed("ab") == ["a"]
    assert chars.feed("\u0301") == []
    assert chars.feed("c") == ["b\u0301"]
    assert chars.flush() == ["c"]


def test_token_groups_are_about_n_tokens() -> None:
    text = "".join(f"w{i:03d} " for i in range(60))  # 5 chars: ~1.75 estimated tokens each
    pieces = contents(buffer_tokens(text_chunks(split_every(text, 5)), n=8, counter=QuarterCounter()))
    assert "".join(pieces) == text
    assert [len(p) for p in pieces[:-1]] == [30] * (len(pieces) - 1)  # 6 words = 8 estimated tokens
    groups = TokenBuffer(4, counter=QuarterCounter())
    assert groups.feed("x" * 64) == ["x" * 16] * 4  # a big chunk is cut into groups


# -- shared behaviour --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BUFFERS))
def test_non_text_chunks_pass_through_in_order_after_a_flush(name: str) -> None:
    out = list(BUFFERS[name](with_signals(["Hello wor", "ld"])))
    text_before = "".join(c.content for c in out[:-3])
    assert text_before == "Hello world"
    assert [c.tool_calls[0].name if c.tool_calls else None for c in out[-3:]] == ["lookup", None, None]
    assert (out[-2].finish_reason, out[-2].raw_finish_reason) == ("stop", "end_turn")
    assert out[-1].usage == FINAL_USAGE and out[-1].is_complete


def test_a_chunk_with_text_and_a_finish_reason_is_split_in_order() -> None:
    chunks = [StreamChunk(content="Hel", index=0), StreamChunk(content="lo you", finish_reason="stop", index=1)]
    out = list(buffer_words(chunks))
    assert [(c.content, c.finish_reason) for c in out] == [("Hello", None), (" you", None), ("", "stop")]


def test_usage_that_rides_on_text_chunks_does_not_release_the_text() -> None:
    # Gemini (and vLLM's continuous usage) send a running usage report with every text chunk
    u1, u2, u3 = (Usage(prompt_tokens=5, completion_tokens=n, total_tokens=5 + n) for n in (1, 2, 3))
    chunks = [StreamChunk(content="Hel", usage=u1, index=0), StreamChunk(content="lo. Th", usage=u2, index=1),
              StreamChunk(content="ere.", usage=u3, finish_reason="stop", index=2)]
    out = list(buffer_sentences(chunks))
    assert [(c.content, c.usage, c.finish_reason) for c in out] == [
        ("Hello. ", u2, None), ("There.", None, None), ("", u3, "stop")]
    words = list(buffer_words([StreamChunk(content="Hi", usage=u1), StreamChunk(content=" you", usage=u2),
                               StreamChunk(content="!", usage=u3)]))
    assert [(c.content, c.usage) for c in words] == [("Hi", u1), (" you!", u3)]


def test_role_only_chunks_pass_without_flushing() -> None:
    chunks = [StreamChunk(content="Hel"), StreamChunk(metadata={"role": "assistant"}), StreamChunk(content="lo")]
    out = list(buffer_words(chunks))
    assert [(c.content, c.metadata) for c in out] == [("", {"role": "assistant"}), ("Hello", {})]


@pytest.mark.parametrize("name", sorted(BUFFERS))
def test_held_text_is_flushed_before_the_error_propagates(name: str) -> None:
    source = ClosableSource(text_chunks(["Hello wor", "ld and mo"]), fail=Boom("connection lost"))
    received: list[str] = []
    with pytest.raises(Boom):
        for chunk in BUFFERS[name](source):
            received.append(chunk.content)
    assert "".join(received) == "Hello world and mo"
    assert source.closed == 1


@pytest.mark.parametrize("name", sorted(BUFFERS))
def test_wrappers_are_lazy_and_closing_closes_the_source(name: str) -> None:
    source = ClosableSource(text_chunks(["one two three four five six seven. Eight nine. "] * 5))
    wrapped = BUFFERS[name](source)
    assert source.served == 0  # nothing read at call time
    next(wrapped)
    wrapped.close()  # type: ignore[attr-defined]
    assert source.closed == 1


def _then_silent(pieces: list[str], shown: threading.Event, last: str) -> Iterator[StreamChunk]:
    """``pieces`` at once, then silence until ``shown`` is set (at most 10 s), then ``last``."""
    yield from text_chunks(pieces)
    shown.wait(10)
    yield StreamChunk(content=last)


@pytest.mark.parametrize("wrapper, pieces, last, expected, without", [
    (buffer_words, ["Thinking", "aboutit", "longer"], "more", ["Thinkingaboutitlonger", "more"],
     ["Thinkingaboutitlongermore"]),
    (buffer_sentences, ["An unfinished", " sentence", " goes on"], " and on",
     ["An unfinished sentence goes on", " and on"], ["An unfinished sentence goes on and on"]),
])
def test_max_delay_releases_what_was_held_that_long(wrapper: Wrapper, pieces: list[str], last: str,
                                                    expected: list[str], without: list[str]) -> None:
    shown = threading.Event()
    out = []
    for chunk in wrapper(_then_silent(pieces, shown, last), max_delay=0.5):  # type: ignore[call-arg]
        out.append(chunk.content)
        shown.set()
    assert out == expected
    assert contents(wrapper(_then_silent(pieces, shown, last))) == without  # no max_delay: to the boundary


@pytest.mark.parametrize("name", sorted(BUFFERS))
def test_max_delay_releases_held_text_while_the_source_is_silent(name: str) -> None:
    # a slow model: "An unfinished" arrives, then nothing until the reader has shown all of
    # it (or 10 s pass). The held text must come out after max_delay, not with the next chunk.
    wrapper = partial(buffer_tokens, n=50) if name == "tokens" else BUFFERS[name]
    shown, resumed = threading.Event(), threading.Event()

    def slow_model() -> Iterator[StreamChunk]:
        yield StreamChunk(content="An unfinished")
        shown.wait(10)
        resumed.set()
        yield StreamChunk(content=" sentence")

    before = text = ""
    for chunk in wrapper(slow_model(), max_delay=0.05):
        if not resumed.is_set():
            before += chunk.content
        text += chunk.content
        if text == "An unfinished":
            shown.set()
    assert (before, text) == ("An unfinished", "An unfinished sentence")


@pytest.mark.parametrize("bad", [0, -1, "1", True])
def test_bad_options_raise_before_reading(bad: object) -> None:
    source = ClosableSource(text_chunks(["x"]))
    with pytest.raises(ConfigurationError, match="max_delay"):
        buffer_words(source, max_delay=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_chars"):
        buffer_sentences(source, max_chars=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="n must be a positive integer"):
        buffer_tokens(source, n=bad)  # type: ignore[arg-type]
    assert source.served == 0


def test_module_doctests() -> None:
    failures = 0
    for info in pkgutil.iter_modules(streaming.__path__):
        module = importlib.import_module(f"llm_connectivity.streaming.{info.name}")
        failures += doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed
    assert failures == 0


SEEDS = int(os.environ.get("TOOLKIT_FUZZ_SEEDS", "40"))
ALPHABET = ["Hello", " world", ".", " ", "  ", "\n", "\n\n", "\t", "\r\n", "Dr", ". ", "3.14", "你", "好。", "👍", "🏽",
            "\u0301", "e", "```", "~~~", " U.S.", "...", "?", "!", '"', ")", "a", "B", "ภาษา", "x" * 20, "\r", "`", "````",
            "   ", "؟", "।", "- ", "# ", "1) ", "-", "#"]


@pytest.mark.parametrize("name", sorted(BUFFERS))
@pytest.mark.parametrize("seed", range(SEEDS))
def test_pieces_do_not_depend_on_how_the_text_was_chunked(name: str, seed: int) -> None:
    import random

    rng = random.Random(seed)
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 60)))
    whole = contents(BUFFERS[name](text_chunks([text])))
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 25)))) if len(text) > 1 else []
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    chunked = contents(BUFFERS[name](text_chunks(pieces)))
    assert "".join(chunked) == text
    if name != "tokens":  # token groups follow the chunks they are made of
        assert chunked == whole, (pieces, whole, chunked)
