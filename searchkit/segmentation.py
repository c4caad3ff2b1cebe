"""jieba's precise segmentation (HMM on), word for word, in a fraction of the time.

For a run of Chinese characters jieba does two things: it picks the most
probable route through the dictionary words of the run, then guesses words
with its HMM in each stretch of single characters the route left behind.
``rjieba`` (Rust bindings of jieba-rs; searchkit works without it) computes the
route about ten times faster from the same dictionary; its HMM guesses
differ from jieba's now and then, so the HMM step stays here, as a tighter
version of jieba's own Viterbi that takes the same decisions, ties included.

Only runs of the characters jieba's HMM works on (U+4E00..U+9FD5) are cut
this way; any other run goes to jieba itself. ``benchmarks/identity.py``
checks the result against jieba on the whole benchmark corpus.
"""

from __future__ import annotations

import re

import jieba
from jieba import finalseg

# jieba's own idea of a Chinese character (its re_han_default), not searchkit's
# (normalize.CJK_RANGES): runs it would cut differently go to jieba itself.
_JIEBA_HAN = re.compile("[\u4e00-\u9fd5]+")
# Never a substring of a run of Chinese characters: a word to carry the part of
# jieba's dictionary total that no dictionary entry accounts for.
_PADDING_WORD = "\x00searchkit\x00"


def fast_cutter(tokenizer: jieba.Tokenizer):
    """A cutter that segments like tokenizer, faster when rjieba can do the routes; else tokenizer."""
    try:
        # Imported only here: importing it loads its own default dictionary
        # (0.1 s), which a one-shot query should not pay for.
        import rjieba
    except ImportError:
        return tokenizer
    routes = _route_finder(rjieba.Jieba.empty(), tokenizer)
    return tokenizer if routes is None else FastCutter(tokenizer, routes)


def _route_finder(routes, tokenizer: jieba.Tokenizer):
    """routes (an empty rjieba instance) given tokenizer's dictionary and total, or None if it cannot be."""
    freq = tokenizer.FREQ
    counted = 0
    try:
        for word, count in freq.items():
            if count:
                routes.add_word(word, count, None)
                counted += count
        missing = tokenizer.total - counted
        if missing < 0:
            return None
        if missing:
            routes.add_word(_PADDING_WORD, missing, None)
    except Exception:  # a word rjieba cannot take: let jieba do it all
        return None
    return routes


class FastCutter:
    """Cuts runs of Chinese characters as ``jieba.Tokenizer.cut(run, HMM=True)`` does."""

    def __init__(self, tokenizer: jieba.Tokenizer, routes) -> None:
        self.FREQ = tokenizer.FREQ
        self._tokenizer = tokenizer
        self._routes = routes

    def cut(self, run: str, HMM: bool = True) -> list[str]:  # noqa: N803 (jieba's spelling)
        """The words of run, exactly as jieba's precise mode gives them."""
        if not HMM or not _JIEBA_HAN.fullmatch(run):
            return list(self._tokenizer.cut(run, HMM=HMM))
        words: list[str] = []
        single = ""  # consecutive one-character words of the route
        for word in self._routes.cut(run, False):
            if len(word) == 1:
                single += word
                continue
            if single:
                words += self._guess(single)
                single = ""
            words.append(word)
        if single:
            words += self._guess(single)
        return words

    def _guess(self, chars: str) -> list[str] | str:
        # jieba's rule for a stretch of one-character words: the HMM guesses
        # words in it, unless the stretch is itself a dictionary word.
        if len(chars) == 1 or self.FREQ.get(chars):
            return chars  # character by character
        return hmm_words(chars)


def hmm_words(chars: str) -> list[str]:
    """jieba.finalseg.cut(chars) for a string of characters in U+4E00..U+9FD5."""
    words = []
    begin = after = 0
    for i, state in enumerate(_viterbi(chars)):
        if state == "B":
            begin = i
        elif state == "E":
            words.append(chars[begin : i + 1])
            after = i + 1
        elif state == "S":
            words.append(chars[i])
            after = i + 1
    if after < len(chars):
        words.append(chars[after:])
    forced = finalseg.Force_Split_Words
    if forced:
        words = [piece for word in words for piece in (word if word in forced else (word,))]
    return words


_START, _TRANS, _EMIT = finalseg.start_P, finalseg.trans_P, finalseg.emit_P
_MIN = finalseg.MIN_FLOAT


def _viterbi(chars: str) -> list[str]:
    """The most probable B/M/E/S states of chars, as jieba.finalseg.viterbi finds them.

    jieba takes ``max`` over (probability, previous state) pairs, so a tie
    goes to the later letter; the sums are added in jieba's order.
    """
    emit_b, emit_m, emit_e, emit_s = _EMIT["B"], _EMIT["M"], _EMIT["E"], _EMIT["S"]
    b_e, b_m = _TRANS["B"]["E"], _TRANS["B"]["M"]
    e_b, e_s = _TRANS["E"]["B"], _TRANS["E"]["S"]
    m_e, m_m = _TRANS["M"]["E"], _TRANS["M"]["M"]
    s_b, s_s = _TRANS["S"]["B"], _TRANS["S"]["S"]
    first = chars[0]
    vb = _START["B"] + emit_b.get(first, _MIN)
    vm = _START["M"] + emit_m.get(first, _MIN)
    ve = _START["E"] + emit_e.get(first, _MIN)
    vs = _START["S"] + emit_s.get(first, _MIN)
    back = []  # per character after the first: the previous state of B, M, E, S
    for char in chars[1:]:
        em = emit_b.get(char, _MIN)
        from_e, from_s = ve + e_b + em, vs + s_b + em
        nb, pb = (from_s, "S") if from_s >= from_e else (from_e, "E")
        em = emit_m.get(char, _MIN)
        from_m, from_b = vm + m_m + em, vb + b_m + em
        nm, pm = (from_m, "M") if from_m >= from_b else (from_b, "B")
        em = emit_e.get(char, _MIN)
        from_b, from_m = vb + b_e + em, vm + m_e + em
        ne, pe = (from_m, "M") if from_m >= from_b else (from_b, "B")
        em = emit_s.get(char, _MIN)
        from_s, from_e = vs + s_s + em, ve + e_s + em
        ns, ps = (from_s, "S") if from_s >= from_e else (from_e, "E")
        back.append({"B": pb, "M": pm, "E": pe, "S": ps})
        vb, vm, ve, vs = nb, nm, ne, ns
    state = "S" if vs >= ve else "E"
    states = [state]
    for previous in reversed(back):
        state = previous[state]
        states.append(state)
    states.reverse()
    return states
