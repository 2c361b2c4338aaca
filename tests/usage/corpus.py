"""Real text by content type, for fitting and checking the token estimator.

- english: the answer texts of the recorded provider streams and the project's prose docs
- code: the library's own Python source
- json: the recorded streams' JSON payloads and their sidecars
- chinese / japanese / korean / other scripts (Cyrillic, Greek, Thai, accented Latin): the samples in ``tests/usage/data`` (written for this)

Each sample is a few hundred to a few thousand characters, like a model's answer.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
FIXTURES = ROOT / "tests" / "fixtures" / "recorded"


def _pieces(text: str, size: int = 1500) -> list[str]:
    """Split ``text`` at line ends into pieces of about ``size`` characters."""
    out: list[str] = []
    current: list[str] = []
    length = 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        length += len(line)
        if length >= size:
            out.append("".join(current))
            current, length = [], 0
    if length > 40:
        out.append("".join(current))
    return out


def _english() -> list[str]:
    answers = []
    for sidecar in sorted(FIXTURES.glob("*/*.json")):
        text = json.loads(sidecar.read_text())["expected"].get("text") or ""
        if len(text) > 80:
            answers.append(text)
    prose = []
    for doc in sorted((ROOT / "docs").glob("**/*.md")):
        kept = []
        fenced = False
        for line in doc.read_text().splitlines(keepends=True):
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced and not line.startswith(("|", "#", "    ")):
                kept.append(line)
        prose.extend(_pieces("".join(kept)))
    return answers + prose


def _code() -> list[str]:
    samples = []
    for path in sorted((ROOT / "llm_connectivity").glob("**/*.py")):
        samples.extend(_pieces(path.read_text(), 2000))
    return samples


def _json() -> list[str]:
    samples = []
    for sidecar in sorted(FIXTURES.glob("*/*.json")):
        meta = json.loads(sidecar.read_text())
        samples.append(json.dumps(meta["expected"], indent=2, ensure_ascii=False))
        samples.append(json.dumps(meta.get("recording", {}), ensure_ascii=False))
    for body in sorted(FIXTURES.glob("*/*.sse")):
        lines = [line[5:].strip() for line in body.read_text(errors="replace").splitlines()
                 if line.startswith("data:") and line[5:].strip().startswith("{")]
        samples.extend(_pieces("\n".join(lines), 2000))
    return samples


def _cjk(name: str) -> list[str]:
    return [line for line in (DATA / f"{name}.txt").read_text().splitlines() if line.strip()]


def load_corpus() -> dict[str, list[str]]:
    """Content type -> list of samples."""
    return {
        "english": _english(),
        "code": _code(),
        "json": _json(),
        "chinese": _cjk("chinese"),
        "japanese": _cjk("japanese"),
        "korean": _cjk("korean"),
        "other scripts": _cjk("other_scripts"),
    }
