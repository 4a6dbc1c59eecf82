"""language: which language a text is written in, detected with langdetect."""

import functools

from dashboard.tools.builtin import RELEASED
from dashboard.tools.tool import ToolVersion, object_schema, text_schema

# langdetect samples n-grams at random; a fixed seed makes the same text give the same answer.
SEED = 0
MAX_CANDIDATES = 5


@functools.cache
def detector_factory():
    """langdetect's factory with all 55 language profiles loaded and the fixed seed."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(SEED)
    return factory


def warm_up() -> None:
    """Load the language profiles."""
    detector_factory()


def detect_language(payload: dict) -> dict:
    """The likeliest language and up to five candidates; null and [] when the text has no letters.

    langdetect reads at most the first 10,000 characters.
    """
    from langdetect.lang_detect_exception import LangDetectException

    detector = detector_factory().create()
    detector.append(payload["text"])
    try:
        found = detector.get_probabilities()
    except LangDetectException:  # raised for text without letters ("No features in text")
        found = []
    candidates = [
        {"language": guess.lang, "probability": round(guess.prob, 4)}
        for guess in found[:MAX_CANDIDATES]
    ]
    return {
        "language": candidates[0]["language"] if candidates else None,
        "candidates": candidates,
    }


TOOL_VERSIONS = [
    ToolVersion(
        name="language",
        version="v1",
        released_on=RELEASED,
        title="Language detection",
        description=(
            "Detects the language of a text (55 languages, ISO 639-1 codes such as en, de, fr) "
            "with probabilities. Text without letters gives language null."
        ),
        input_schema=object_schema(
            {"text": text_schema("The text to identify; the first 10,000 characters are read.")},
            required=["text"],
        ),
        output_schema=object_schema(
            {
                "language": {"type": ["string", "null"]},
                "candidates": {
                    "type": "array",
                    "maxItems": MAX_CANDIDATES,
                    "items": {
                        "type": "object",
                        "properties": {
                            "language": {"type": "string"},
                            "probability": {"type": "number", "minimum": 0, "maximum": 1},
                        },
                        "required": ["language", "probability"],
                        "additionalProperties": False,
                    },
                },
            },
            required=["language", "candidates"],
        ),
        example_input={"text": "Der schnelle braune Fuchs springt über den faulen Hund."},
        run=detect_language,
    )
]
