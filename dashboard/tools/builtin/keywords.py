"""keywords: the key phrases of a text, extracted with YAKE."""

import functools

from dashboard.tools.builtin import RELEASED
from dashboard.tools.tool import InputRefused, ToolVersion, object_schema, text_schema

MAX_WORDS_PER_KEYWORD = 3
# YAKE splits sentences with segtok, which joins a sentence to the one before when the next one
# starts like a continuation: a lower-case word after an abbreviation-like end ("cd.", '."'),
# or one of its continuation words ("is", "and", "of", ...) after any end ("Abc. is"). At every
# sentence end it matches its patterns against everything joined so far, so a text of many
# joins costs the square of its length: 20,000 characters of "Abc. is " took 2.6 s (and of
# "ab cd. " 4 s). join_scan() follows segtok's own rules over its own split, in linear time, and
# adds up the characters segtok would scan; past MAX_JOIN_SCAN the text is refused.
# Measured on 20,000 characters: "Abc. is ", "Abc! is ", "ab cd. ", "x. y ", "etc.) a "
# scan 25 to 40 million (7 to 23 s on a busy 2-core machine); 500 joins of "ab cd. " scan
# 877,000 (0.45 s there, about 0.2 s on a quiet one); prose scans about its length.
MAX_JOIN_SCAN = 1_000_000
# The end of what was joined so far that segtok's BEFORE_LOWER needs to see.
TAIL = 24


@functools.cache
def yake_module():
    """The yake package, imported on first use (it pulls in numpy, networkx and segtok)."""
    import yake

    return yake


def warm_up() -> None:
    """Import YAKE and load its English stopwords."""
    yake_module().KeywordExtractor(lan="en")


def extract_keywords(payload: dict) -> dict:
    """The most relevant key phrases first; a lower YAKE score means more relevant."""
    language = payload.get("language", "en")
    text = payload["text"]
    if join_scan(text) > MAX_JOIN_SCAN:
        raise InputRefused(
            "/text",
            "the text has too many sentence ends followed by a lower-case word (such as "
            f"'Abc. is' or 'ab cd. ef'): splitting it into sentences would scan more than "
            f"{MAX_JOIN_SCAN:,} characters, the limit",
        )
    extractor = yake_module().KeywordExtractor(
        lan=language, n=MAX_WORDS_PER_KEYWORD, top=payload.get("max_keywords", 10)
    )
    found = extractor.extract_keywords(text)
    return {
        "language": language,
        "keywords": [{"keyword": phrase, "score": float(score)} for phrase, score in found],
    }


def join_scan(text: str) -> int:
    """How many characters segtok's sentence splitter would scan for `text`, about (it stops
    counting past MAX_JOIN_SCAN): at each sentence end it matches everything joined so far,
    and it joins when the next piece starts with a continuation."""
    from segtok.segmenter import BEFORE_LOWER, CONTINUATIONS, LOWER_WORD, MAY_CROSS_ONE_LINE

    spans = MAY_CROSS_ONE_LINE.split(text)  # segment, end, segment, end, ...
    scanned, joined, tail = 0, 0, ""
    for index in range(0, len(spans), 2):
        piece = "".join(spans[index : index + 2])
        if joined:
            scanned += joined
            if scanned > MAX_JOIN_SCAN:
                break
            continues = (BEFORE_LOWER.match(tail) and LOWER_WORD.match(piece)) or (
                CONTINUATIONS.match(piece)
            )
            if not continues:
                joined = 0
        joined += len(piece)
        tail = (tail + piece)[-TAIL:]
    return scanned


TOOL_VERSIONS = [
    ToolVersion(
        name="keywords",
        version="v1",
        released_on=RELEASED,
        title="Keywords",
        description=(
            "Extracts the key phrases (one to three words) of a text with YAKE, most relevant "
            "first; a lower score means more relevant."
        ),
        input_schema=object_schema(
            {
                "text": text_schema("The text to extract key phrases from, up to 20,000 chars."),
                "max_keywords": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 50,
                    "default": 10,
                    "description": "How many key phrases to return at most.",
                },
                "language": {
                    "type": "string",
                    "pattern": "^[a-z]{2}$",
                    "default": "en",
                    "description": (
                        "Two-letter code of the text's language, for its stopwords. Languages "
                        "YAKE has no stopword list for use a language-neutral list."
                    ),
                },
            },
            required=["text"],
        ),
        output_schema=object_schema(
            {
                "language": {"type": "string"},
                "keywords": {
                    "type": "array",
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "properties": {
                            "keyword": {"type": "string"},
                            "score": {"type": "number", "minimum": 0},
                        },
                        "required": ["keyword", "score"],
                        "additionalProperties": False,
                    },
                },
            },
            required=["language", "keywords"],
        ),
        example_input={
            "text": (
                "Machine learning is a field of artificial intelligence that builds models from "
                "data. Machine learning models are used for search, translation and fraud "
                "detection."
            ),
            "max_keywords": 5,
        },
        run=extract_keywords,
    )
]
