"""readability: how hard an English text is to read, measured with textstat."""

import functools

from dashboard.tools.builtin import RELEASED
from dashboard.tools.tool import ToolVersion, object_schema, text_schema

# textstat counts English syllables with NLTK's CMU dictionary and downloads it at run time when
# it is missing, which needs the network. Its language code "en-US" (with a hyphen) is not
# matched as English by that lookup, so syllables come from Pyphen's bundled en_US hyphenation
# dictionary instead, while every formula keeps its English constants.
TEXTSTAT_LANGUAGE = "en-US"


@functools.cache
def text_statistics():
    """A textstat instance of our own (not the module-wide one) set to count offline."""
    from textstat.textstat import textstatistics

    statistics = textstatistics()
    statistics.set_lang(TEXTSTAT_LANGUAGE)
    return statistics


def warm_up() -> None:
    """Import textstat and load the hyphenation dictionary."""
    text_statistics().syllable_count("warm up")


def measure_readability(payload: dict) -> dict:
    """Flesch scores, counts and the estimated reading time of the text."""
    text = payload["text"]
    stats = text_statistics()
    return {
        "flesch_reading_ease": round(stats.flesch_reading_ease(text), 2),
        "flesch_kincaid_grade": round(stats.flesch_kincaid_grade(text), 2),
        "word_count": stats.lexicon_count(text),
        "sentence_count": stats.sentence_count(text),
        "syllable_count": stats.syllable_count(text),
        "reading_time_seconds": round(stats.reading_time(text), 2),
    }


TOOL_VERSIONS = [
    ToolVersion(
        name="readability",
        version="v1",
        released_on=RELEASED,
        title="Readability",
        description=(
            "Measures how easy an English text is to read: Flesch reading ease, Flesch-Kincaid "
            "grade, word, sentence and syllable counts and reading time."
        ),
        input_schema=object_schema(
            {"text": text_schema("English text to measure, 1 to 20,000 characters.")},
            required=["text"],
        ),
        output_schema=object_schema(
            {
                "flesch_reading_ease": {
                    "type": "number",
                    "description": "Higher is easier; 60-70 is plain English.",
                },
                "flesch_kincaid_grade": {
                    "type": "number",
                    "description": "US school grade needed to understand the text.",
                },
                "word_count": {"type": "integer", "minimum": 0},
                "sentence_count": {"type": "integer", "minimum": 0},
                "syllable_count": {"type": "integer", "minimum": 0},
                "reading_time_seconds": {"type": "number", "minimum": 0},
            },
            required=[
                "flesch_reading_ease",
                "flesch_kincaid_grade",
                "word_count",
                "sentence_count",
                "syllable_count",
                "reading_time_seconds",
            ],
        ),
        example_input={
            "text": (
                "The cat sat on the mat. It was a sunny day, and the cat was happy. "
                "Later, it went inside to sleep."
            )
        },
        run=measure_readability,
    )
]
