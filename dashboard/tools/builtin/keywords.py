"""keywords: the key phrases of a text, extracted with YAKE."""

import functools

import regex

from dashboard.tools.tool import InputRefused, ToolVersion, object_schema, text_schema

MAX_WORDS_PER_KEYWORD = 3
# YAKE splits sentences with segtok, which joins a sentence to the one before when that one ends
# like an abbreviation ("cd.", '."') and the next starts in lower case, matching the growing
# sentence again at each join: quadratic in the number of joins ("ab cd. " x 2,857 took 4 s,
# 500 joins take about 0.2 s). Honest prose has a few.
ABBREVIATION_BEFORE_LOWER = regex.compile(r"(?:\b\p{L}\p{Ll}?\.|[.!?…][\"”’)\]]+)\s+(?=\p{Ll})")
MAX_ABBREVIATIONS = 500


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
    if len(ABBREVIATION_BEFORE_LOWER.findall(text)) > MAX_ABBREVIATIONS:
        raise InputRefused(
            "/text",
            f"the text has more than {MAX_ABBREVIATIONS} sentence ends followed by a lower-case "
            "word (such as 'ab cd. ef'), the limit",
        )
    extractor = yake_module().KeywordExtractor(
        lan=language, n=MAX_WORDS_PER_KEYWORD, top=payload.get("max_keywords", 10)
    )
    found = extractor.extract_keywords(text)
    return {
        "language": language,
        "keywords": [{"keyword": phrase, "score": float(score)} for phrase, score in found],
    }


TOOL_VERSIONS = [
    ToolVersion(
        name="keywords",
        version="v1",
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
