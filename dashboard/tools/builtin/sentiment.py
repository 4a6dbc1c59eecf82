"""sentiment: VADER polarity of a text (v1) and of each of its sentences (v2)."""

import functools
import re
from datetime import date

from dashboard.tools.builtin import RELEASED
from dashboard.tools.tool import ToolVersion, object_schema, text_schema

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

# A sentence ends at ".", "!", "?" or "…" (optionally followed by one closing quote or bracket)
# and then whitespace, or at a line break. Pieces that are only whitespace are dropped.
SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’)\]]))\s+|\s*\n\s*")


def split_sentences(text: str) -> list[str]:
    """The sentences of text, by the deterministic rule in SENTENCE_BREAK."""
    return [piece.strip() for piece in SENTENCE_BREAK.split(text) if piece.strip()]


def label_for(compound: float) -> str:
    """positive, negative or neutral, by VADER's standard ±0.05 thresholds on compound."""
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


@functools.cache
def analyzer():
    """The VADER analyzer (lexicon loaded once), with its quadratic checks made linear."""
    from dashboard.tools.builtin.vader_linear import LinearSentimentIntensityAnalyzer

    return LinearSentimentIntensityAnalyzer()


def warm_up() -> None:
    """Load the VADER lexicon."""
    analyzer()


def polarity(text: str) -> dict:
    """VADER's compound, pos, neu and neg scores for text, plus its label."""
    scores = analyzer().polarity_scores(text)
    return {
        "compound": scores["compound"],
        "pos": scores["pos"],
        "neu": scores["neu"],
        "neg": scores["neg"],
        "label": label_for(scores["compound"]),
    }


def score_text(payload: dict) -> dict:
    """v1: the polarity of the whole text."""
    return polarity(payload["text"])


def score_sentences(payload: dict) -> dict:
    """v2: the polarity of each sentence, and overall the mean of the sentence scores."""
    sentences = [
        {"text": sentence, **polarity(sentence)} for sentence in split_sentences(payload["text"])
    ]
    count = len(sentences)
    overall = {
        key: round(sum(s[key] for s in sentences) / count, 4) if count else 0.0
        for key in ("compound", "pos", "neu", "neg")
    }
    overall["label"] = label_for(overall["compound"])
    return {"overall": overall, "sentences": sentences}


LABEL = {"type": "string", "enum": ["positive", "negative", "neutral"]}
SCORES = {
    "compound": {"type": "number", "minimum": -1, "maximum": 1},
    "pos": {"type": "number", "minimum": 0, "maximum": 1},
    "neu": {"type": "number", "minimum": 0, "maximum": 1},
    "neg": {"type": "number", "minimum": 0, "maximum": 1},
    "label": LABEL,
}
SCORE_KEYS = ["compound", "pos", "neu", "neg", "label"]
INPUT = object_schema(
    {"text": text_schema("English text to score, 1 to 20,000 characters.")}, required=["text"]
)


def closed(properties: dict, required: list[str]) -> dict:
    """A closed object schema for a nested output object."""
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


TOOL_VERSIONS = [
    ToolVersion(
        name="sentiment",
        version="v1",
        released_on=RELEASED,
        title="Sentiment",
        description=(
            "Scores how positive or negative an English text is with VADER: "
            "compound from -1 to 1, the pos/neu/neg proportions and a label."
        ),
        input_schema=INPUT,
        output_schema=object_schema(SCORES, required=SCORE_KEYS),
        example_input={"text": "The support team was quick and friendly. I love this product!"},
        run=score_text,
        # v2 scores each sentence and the whole: v1 is deprecated (the demo's deprecation).
        deprecated_on=date(2026, 12, 7),
        sunset_on=date(2027, 12, 31),
        replacement="v2",
    ),
    ToolVersion(
        name="sentiment",
        version="v2",
        released_on=RELEASED,
        title="Sentiment by sentence",
        description=(
            "Scores each sentence of an English text with VADER and gives the overall mean, "
            "so you can see which sentences are positive or negative."
        ),
        input_schema=INPUT,
        output_schema=object_schema(
            {
                "overall": closed(SCORES, SCORE_KEYS),
                "sentences": {
                    "type": "array",
                    "items": closed(
                        {"text": {"type": "string"}, **SCORES}, required=["text", *SCORE_KEYS]
                    ),
                },
            },
            required=["overall", "sentences"],
        ),
        example_input={
            "text": "The delivery was late. But the food was delicious and the staff were lovely!"
        },
        run=score_sentences,
    ),
]
