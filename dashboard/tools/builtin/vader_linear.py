"""VADER with the same scores in linear time (stock checks re-lowercase the text per word).

vaderSentiment 3.3.2 lowercases every word of the text inside `_negation_check` and
`_special_idioms_check` (called for each sentiment word) and uses `list.index` inside `_but_check`,
so a 20,000-character text of emoji takes minutes. These replacements read only the words they
look at and give the same results, including `_but_check`'s habit of rescaling the first
sentiment equal to the current one.
"""

import heapq
from collections import defaultdict

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    N_SCALAR,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    negated,
)


def negation_check(valence, words_and_emoticons, start_i, i):
    """VADER's _negation_check, lowercasing only the three preceding words."""

    def word(k):
        return str(words_and_emoticons[k]).lower()

    if start_i == 0 and negated([word(i - 1)]):
        valence = valence * N_SCALAR
    if start_i == 1:
        if word(i - 2) == "never" and word(i - 1) in ("so", "this"):
            valence = valence * 1.25
        elif word(i - 2) == "without" and word(i - 1) == "doubt":
            pass
        elif negated([word(i - 2)]):
            valence = valence * N_SCALAR
    if start_i == 2:
        if (word(i - 3) == "never" and word(i - 2) in ("so", "this")) or word(i - 1) in (
            "so",
            "this",
        ):
            valence = valence * 1.25
        elif word(i - 3) == "without" and (word(i - 2) == "doubt" or word(i - 1) == "doubt"):
            pass
        elif negated([word(i - 3)]):
            valence = valence * N_SCALAR
    return valence


def special_idioms_check(valence, words_and_emoticons, i):
    """VADER's _special_idioms_check, lowercasing only the words around position i."""

    def word(k):
        return str(words_and_emoticons[k]).lower()

    w3, w2, w1, w0 = word(i - 3), word(i - 2), word(i - 1), word(i)
    onezero = f"{w1} {w0}"
    twoonezero = f"{w2} {w1} {w0}"
    twoone = f"{w2} {w1}"
    threetwoone = f"{w3} {w2} {w1}"
    threetwo = f"{w3} {w2}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    last = len(words_and_emoticons) - 1
    if last > i:
        zeroone = f"{w0} {word(i + 1)}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if last > i + 1:
        zeroonetwo = f"{w0} {word(i + 1)} {word(i + 2)}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def but_check(words_and_emoticons, sentiments):
    """VADER's _but_check: halve sentiments before the first 'but', x1.5 after it.

    The stock loop finds each value's position with list.index, so it rescales the first
    sentiment equal to the current one; a min-heap of positions per value keeps that.
    """
    lowered = [str(w).lower() for w in words_and_emoticons]
    if "but" not in lowered:
        return sentiments
    but_index = lowered.index("but")
    positions = defaultdict(list)
    for index, value in enumerate(sentiments):
        positions[value].append(index)  # ascending, so already a valid heap
    for current in range(len(sentiments)):
        value = sentiments[current]
        heap = positions[value]
        while sentiments[heap[0]] != value:
            heapq.heappop(heap)  # stale: that position now holds another value
        first = heap[0]
        if first == but_index:
            continue
        scaled = value * (0.5 if first < but_index else 1.5)
        sentiments[first] = scaled
        if scaled != value:
            heapq.heappop(heap)
            heapq.heappush(positions[scaled], first)
    return sentiments


class LinearSentimentIntensityAnalyzer(SentimentIntensityAnalyzer):
    """VADER's analyzer with the three checks above in place of the quadratic ones."""

    _negation_check = staticmethod(negation_check)
    _special_idioms_check = staticmethod(special_idioms_check)
    _but_check = staticmethod(but_check)
