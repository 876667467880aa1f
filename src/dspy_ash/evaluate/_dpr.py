"""DPR's simple tokenizer, as `answer_passage_match` uses it (DSPy's `dsp.utils.dpr`).

DSPy uses the `regex` package for `[\\p{L}\\p{N}\\p{M}]+|[^\\p{Z}\\p{C}]`; the same classes are read
here from `unicodedata` categories so no extra dependency is needed.
"""

from __future__ import annotations

import unicodedata


def _word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"


def _token_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] not in "ZC"


def dpr_tokenize(text: str) -> list[str]:
    """Runs of letters/numbers/marks, and every other visible character on its own."""
    text = unicodedata.normalize("NFD", text)
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if _word_char(ch):
            j = i + 1
            while j < n and _word_char(text[j]):
                j += 1
            tokens.append(text[i:j])
            i = j
            continue
        if _token_char(ch):
            tokens.append(ch)
        i += 1
    return tokens


def dpr_normalize(text: str) -> list[str]:
    return [token.lower() for token in dpr_tokenize(text)]


def has_answer(tokenized_answers: list[list[str]], text: str) -> bool:
    words = dpr_normalize(text)
    for answer in tokenized_answers:
        for i in range(len(words) - len(answer) + 1):
            if words[i : i + len(answer)] == answer:
                return True
    return False
