"""Fit the token estimator's coefficients against tiktoken, and report its error.

    .venv/bin/python benchmarks/fit_estimator.py            # fit, print COEFFICIENTS
    .venv/bin/python benchmarks/fit_estimator.py --table    # print the error table
    .venv/bin/python benchmarks/fit_estimator.py --write    # ...and write it into the cost tutorial

The corpus (``tests/usage/corpus.py``) is real text by content type: recorded answers
and docs (English), the library's source (code), recorded JSON payloads, and written
Chinese, Japanese and Korean samples. The fit is a least-squares regression of the exact
token count on the estimator's features (``llm_connectivity.tokens.FEATURES``), each
sample weighted by 1/tokens so that every sample counts by its relative error, and each
content type weighted equally. Needs the ``usage`` extra (tiktoken and the rank files).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "usage"))

from corpus import load_corpus  # noqa: E402

from llm_connectivity.encodings import get_encoding  # noqa: E402
from llm_connectivity.tokens import COEFFICIENTS, FEATURES, CharacterEstimator, estimator_features  # noqa: E402

ENCODINGS = ("o200k_base", "cl100k_base")


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (small, dense, well-conditioned)."""
    n = len(vector)
    rows = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        if abs(rows[col][col]) < 1e-12:
            continue
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [rows[i][n] / rows[i][i] if abs(rows[i][i]) > 1e-12 else 0.0 for i in range(n)]


#: Fixed weights. Features that are whole pre-tokenizer pieces are at least one token
#: each (a fitted weight below 1 undercounts plain word sequences); letters past the
#: sixth of a word keep a floor of 0.1 (on real text long words are mostly one token, so
#: the fit says 0, but a long random run like an id or base64 splits into many).
PIECES = {**{FEATURES.index(name): 1.0 for name in ("words", "digit_groups", "punct_runs", "space_runs")},
          FEATURES.index("word_extra_chars"): 0.1}


def fit(encoding: str, corpus: dict[str, list[str]]) -> tuple[float, ...]:
    """Weighted least squares of exact counts on features (a small ridge toward the current
    coefficients); the whole-piece features keep weight 1, the others are fitted."""
    encode = get_encoding(encoding).encode_ordinary
    k = len(FEATURES)
    normal = [[0.0] * k for _ in range(k)]
    rhs = [0.0] * k
    for samples in corpus.values():
        type_weight = 1.0 / len(samples)
        for text in samples:
            x = estimator_features(text)
            exact = len(encode(text)) - sum(weight * x[i] for i, weight in PIECES.items())
            w = type_weight / max(len(encode(text)), 1) ** 2
            for i in range(k):
                rhs[i] += w * x[i] * exact
                for j in range(k):
                    normal[i][j] += w * x[i] * x[j]
    for i in PIECES:  # fixed: an identity row
        normal[i] = [1.0 if j == i else 0.0 for j in range(k)]
        rhs[i] = 0.0
        for row in range(k):
            if row != i:
                normal[row][i] = 0.0
    prior = COEFFICIENTS[encoding]  # ridge toward the current values keeps rare features sane
    scale = sum(normal[i][i] for i in range(k) if i not in PIECES) / (k - len(PIECES))
    for i in range(k):
        if i not in PIECES:
            normal[i][i] += 1e-3 * scale
            rhs[i] += 1e-3 * scale * prior[i]
    solved = _solve(normal, rhs)
    return tuple(PIECES.get(i, round(max(c, 0.0), 3)) for i, c in enumerate(solved))


def error_table(corpus: dict[str, list[str]]) -> str:
    """Markdown: per content type, the total-count error of chars/4 and of the estimator."""
    lines = ["| content | samples | chars | o200k tokens | chars/4 | estimator (o200k) "
             "| cl100k tokens | estimator (cl100k) |", "|---|---|---|---|---|---|---|---|"]
    for kind, samples in corpus.items():
        chars = sum(len(s) for s in samples)
        cells = [kind, str(len(samples)), str(chars)]
        for encoding in ENCODINGS:
            encode = get_encoding(encoding).encode_ordinary
            exact = sum(len(encode(s)) for s in samples)
            estimate = sum(CharacterEstimator(encoding).count(s) for s in samples)
            cells.append(str(exact))
            if encoding == "o200k_base":
                cells.append(f"{(chars / 4 - exact) / exact:+.0%}")
            cells.append(f"{(estimate - exact) / exact:+.0%} (worst sample "
                         f"{_worst(samples, encoding):+.0%})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _worst(samples: list[str], encoding: str) -> float:
    encode = get_encoding(encoding).encode_ordinary
    estimator = CharacterEstimator(encoding)
    errors = [(estimator.count(s) - len(encode(s))) / len(encode(s)) for s in samples if len(s) >= 100]
    return max(errors, key=abs) if errors else 0.0


DOC = Path(__file__).resolve().parents[1] / "docs" / "tutorials" / "05-cost-optimization.md"
START, END = "<!-- estimator-table:start -->", "<!-- estimator-table:end -->"


def _write(table: str) -> None:
    """Replace the table between the markers in the cost tutorial."""
    text = DOC.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{table}\n{END}{tail}")


def main() -> None:
    corpus = load_corpus()
    if "--table" in sys.argv or "--write" in sys.argv:
        table = error_table(corpus)
        print(table)
        if "--write" in sys.argv:
            _write(table)
        return
    print("COEFFICIENTS = {")
    for encoding in ENCODINGS:
        print(f'    "{encoding}": {fit(encoding, corpus)},')
    print("}")
    print("# currently in tokens.py:", COEFFICIENTS, file=sys.stderr)


if __name__ == "__main__":
    main()
