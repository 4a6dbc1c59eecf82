"""What each built-in tool answers, on examples and on edge cases its schema accepts."""

import time

import pytest
from jsonschema import Draft202012Validator

from dashboard.tools.builtin.keywords import MAX_JOIN_SCAN, join_scan
from dashboard.tools.registry import all_tools, find_tool, validation_errors
from dashboard.tools.tool import InputRefused

ALL = all_tools()
IDS = [f"{tool.name}-{tool.version}" for tool in ALL]
EDGE_TEXTS = ["x", " ", "   \n\t ", "😀🎉", "a\x00b", "\ud800 lone surrogate", "!!!???", "123 456"]


def run(name: str, version: str | None = None, **payload) -> dict:
    """Validate payload against the tool's schema, run it and check its output schema."""
    tool = find_tool(name, version)
    assert validation_errors(tool, payload) == []
    output = tool.run(payload)
    assert list(Draft202012Validator(tool.output_schema).iter_errors(output)) == []
    return output


def text_field(tool) -> str:
    """The name of the tool's free-text property."""
    return next(
        key for key in ("text", "markdown", "message") if key in tool.input_schema["properties"]
    )


@pytest.mark.parametrize("tool", ALL, ids=IDS)
def test_example_input_validates_runs_and_matches_output_schema(tool):
    assert validation_errors(tool, tool.example_input) == []
    output = tool.run(tool.example_input)
    assert list(Draft202012Validator(tool.output_schema).iter_errors(output)) == []


@pytest.mark.parametrize(
    "tool", [t for t in ALL if t.name != "json_validate"], ids=lambda t: t.name + t.version
)
@pytest.mark.parametrize("text", EDGE_TEXTS)
def test_edge_texts_never_raise(tool, text):
    payload = {text_field(tool): text}
    assert validation_errors(tool, payload) == []
    output = tool.run(payload)
    assert list(Draft202012Validator(tool.output_schema).iter_errors(output)) == []


@pytest.mark.parametrize(
    "tool", [t for t in ALL if t.name != "json_validate"], ids=lambda t: t.name + t.version
)
@pytest.mark.parametrize(
    "text",
    [
        ("The service was great but the food was not good. " * 400)[:20_000],
        "😀" * 20_000,
        "[" * 20_000,
        "* " * 10_000,
    ],
    ids=["prose", "emoji", "brackets", "nested-list"],
)
def test_longest_texts_give_valid_output(tool, text):
    # How long they take is measured by bench/, not asserted here (the machine is shared); the
    # gateway bounds every run with the tool's deadline.
    output = tool.run({text_field(tool): text})
    assert list(Draft202012Validator(tool.output_schema).iter_errors(output)) == []


def test_empty_text_is_rejected_by_schema():
    for name in ("sentiment", "keywords", "language", "readability"):
        assert [e["path"] for e in validation_errors(find_tool(name), {"text": ""})] == ["/text"]
    assert validation_errors(find_tool("echo"), {"message": ""}) == []


# sentiment


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_sentiment_labels(version):
    positive = run("sentiment", version, text="I love this, it is wonderful")
    negative = run("sentiment", version, text="This is terrible and I hate it")
    neutral = run("sentiment", version, text="The box is on the table")
    overall = (lambda out: out) if version == "v1" else (lambda out: out["overall"])
    assert overall(positive)["label"] == "positive" and overall(positive)["compound"] > 0.5
    assert overall(negative)["label"] == "negative" and overall(negative)["compound"] < -0.5
    assert overall(neutral)["label"] == "neutral"


def test_sentiment_versions_differ_in_shape():
    text = "The delivery was late. But the food was delicious!"
    v1, v2 = run("sentiment", "v1", text=text), run("sentiment", "v2", text=text)
    assert set(v1) == {"compound", "pos", "neu", "neg", "label"}
    assert set(v2) == {"overall", "sentences"}
    assert [s["text"] for s in v2["sentences"]] == [
        "The delivery was late.",
        "But the food was delicious!",
    ]


def test_sentiment_v2_sentence_splitting_rule():
    text = 'He said "great." Then left!  Really?\nNew line… end\n\n  '
    sentences = [s["text"] for s in run("sentiment", "v2", text=text)["sentences"]]
    assert sentences == ['He said "great."', "Then left!", "Really?", "New line…", "end"]
    assert run("sentiment", "v2", text=" \n ")["sentences"] == []


def test_linear_vader_scores_like_the_stock_one():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from dashboard.tools.builtin.sentiment import analyzer

    stock = SentimentIntensityAnalyzer()
    texts = [
        "The food was good but the service was not very good at all",
        "never so happy, without doubt the best kind of day :) but a bit sort of sad",
        "I don't love it. At least it is not terrible! NOT BAD but NOT GREAT either 😀",
        "good good great but good bad good good the shit cut the mustard yeah right",
    ]
    for text in texts:
        assert analyzer().polarity_scores(text) == stock.polarity_scores(text)


# keywords


def test_keywords_find_the_topic():
    text = (
        "Solar panels convert sunlight into electricity. Modern solar panels are cheaper than "
        "ever, and households install solar panels on their roofs to cut electricity bills."
    )
    output = run("keywords", text=text, max_keywords=5)
    phrases = [item["keyword"].lower() for item in output["keywords"]]
    assert "solar panels" in phrases
    assert len(phrases) <= 5
    scores = [item["score"] for item in output["keywords"]]
    assert scores == sorted(scores)


def test_keywords_other_language_and_unknown_language():
    german = "Künstliche Intelligenz verändert die Arbeit. Künstliche Intelligenz lernt aus Daten."
    assert run("keywords", text=german, language="de")["keywords"]
    assert run("keywords", text=german, language="xx")["language"] == "xx"


# Shapes that make segtok join sentence after sentence (each 20,000 characters): an
# abbreviation-like end before a lower-case word, and a continuation word after any end.
SEGTOK_BOMBS = ["Abc. is ", "Abc! is ", "Abc?\nis ", "ab cd. ", "x. y ", 'etc.") a ', "Dr. no "]


@pytest.mark.parametrize("unit", SEGTOK_BOMBS)
def test_keywords_refuse_texts_that_segtok_splits_in_quadratic_time(unit):
    text = (unit * 20_000)[:20_000]
    with pytest.raises(InputRefused, match="would scan more than 1,000,000 characters"):
        run("keywords", text=text)


@pytest.mark.parametrize(
    "text",
    [
        "Abc. Def. " * 2_000,  # sentence ends, but no continuation
        "hello there. this is fine. what now. " * 540,  # lower-case sentences
        "Dr. Smith and Mrs. Jones met e.g. at 5 p.m. in the U.S. office. " * 300,
        "ab cd. " * 400,  # 400 joins: about 0.1 s of segtok
    ],
)
def test_keywords_take_honest_texts_and_a_few_joins(text):
    assert join_scan(text[:20_000]) <= MAX_JOIN_SCAN
    assert run("keywords", text=text[:20_000])["language"] == "en"


def test_keywords_schema_rejections():
    tool = find_tool("keywords")
    payload = {"text": "hello", "max_keywords": 51, "language": "EN"}
    assert [e["path"] for e in validation_errors(tool, payload)] == ["/language", "/max_keywords"]
    assert [e["path"] for e in validation_errors(tool, {"text": "hi", "max_keywords": 2.5})] == [
        "/max_keywords"
    ]


# language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Das ist ein schöner Tag, und wir gehen heute im Park spazieren.", "de"),
        ("C'est une belle journée et nous allons nous promener dans le parc.", "fr"),
        ("It is a beautiful day and we are going for a walk in the park.", "en"),
    ],
)
def test_language_detected(text, code):
    output = run("language", text=text)
    assert output["language"] == code
    assert output["candidates"][0]["probability"] > 0.9


def test_language_is_deterministic():
    text = "ok si"  # ambiguous, so an unseeded detector would vary
    assert len({str(run("language", text=text)) for _ in range(5)}) == 1


@pytest.mark.parametrize("text", ["123 456", "!!!", "😀😀", "   "])
def test_language_without_letters_is_null(text):
    assert run("language", text=text) == {"language": None, "candidates": []}


# readability


def test_readability_orders_simple_before_complex():
    simple = run("readability", text="The cat sat on the mat. The dog ran to the park. It was fun.")
    complex_ = run(
        "readability",
        text=(
            "Notwithstanding the aforementioned considerations, the interdisciplinary committee "
            "unanimously recommended comprehensive institutional reorganization, emphasizing "
            "accountability, transparency and organizational sustainability."
        ),
    )
    assert simple["flesch_reading_ease"] > complex_["flesch_reading_ease"]
    assert simple["flesch_kincaid_grade"] < complex_["flesch_kincaid_grade"]
    assert simple["sentence_count"] == 3
    assert simple["word_count"] == 15
    assert simple["reading_time_seconds"] > 0


def test_readability_never_downloads(monkeypatch):
    import nltk

    def refuse(*args, **kwargs):
        raise AssertionError("textstat tried to use NLTK's downloadable data")

    monkeypatch.setattr(nltk, "download", refuse)
    monkeypatch.setattr(nltk.data, "find", refuse)
    assert run("readability", text="A brand new sentence to count offline.")["syllable_count"] > 0


# markdown


def test_markdown_renders_and_strips_dangerous_html():
    source = (
        "# Title\n\nSome **bold** text.\n\n<script>alert(1)</script>\n\n"
        '<img src="x" onerror="alert(1)">\n\n[click](javascript:alert(1))\n\n'
        '<a href="javascript:alert(2)" onclick="alert(3)">raw</a>\n'
    )
    output = run("markdown", markdown=source)
    html = output["html"].lower()
    assert "<h1>title</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "alert(1)</" not in html
    assert "onerror" not in html and "onclick" not in html
    assert 'href="javascript:' not in html
    assert '<img src="x">' in html  # raw HTML is kept, minus what nh3 removes


def test_markdown_links_tables_and_word_count():
    source = "See [the docs](https://example.com).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    output = run("markdown", markdown=source)
    assert 'href="https://example.com"' in output["html"]
    assert "<table>" in output["html"]
    assert output["word_count"] == 7  # See, the, docs, a, b, 1, 2


# json_validate


def test_json_validate_reports_paths():
    output = run(
        "json_validate",
        document={"user": {"tags": ["a", 3]}, "age": "ten"},
        schema={
            "type": "object",
            "properties": {
                "user": {
                    "type": "object",
                    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
                },
                "age": {"type": "integer"},
            },
            "required": ["user", "age", "email"],
        },
    )
    assert output["valid"] is False and output["schema_valid"] is True
    assert [error["path"] for error in output["errors"]] == ["", "/age", "/user/tags/1"]


def test_json_validate_valid_document_and_local_ref():
    schema = {
        "$defs": {"positive": {"type": "integer", "minimum": 1}},
        "type": "array",
        "items": {"$ref": "#/$defs/positive"},
    }
    assert run("json_validate", document=[1, 2], schema=schema)["valid"] is True
    output = run("json_validate", document=[1, 0], schema=schema)
    assert [e["path"] for e in output["errors"]] == ["/1"]


def test_json_validate_invalid_schema_is_an_answer_not_an_exception():
    output = run("json_validate", document=1, schema={"type": "nonsense"})
    assert output["valid"] is False and output["schema_valid"] is False
    assert output["errors"][0]["path"] == "/type"


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "https://example.com/schema.json"},
        {"properties": {"a": {"$ref": "http://example.com/a"}}},
        {"$dynamicRef": "//example.com/x"},
    ],
)
def test_json_validate_refuses_remote_refs(schema):
    output = run("json_validate", document={}, schema=schema)
    assert output["schema_valid"] is False
    assert "remote references are not allowed" in output["errors"][0]["message"]


def test_json_validate_unresolvable_local_ref():
    output = run("json_validate", document=1, schema={"$ref": "#/$defs/missing"})
    assert output["schema_valid"] is False


def test_json_validate_caps_errors_at_100():
    output = run("json_validate", document=list(range(500)), schema={"items": {"type": "string"}})
    assert len(output["errors"]) == 100 and output["truncated"] is True


def test_json_validate_survives_catastrophic_pattern():
    started = time.perf_counter()
    output = run("json_validate", document="a" * 5_000 + "!", schema={"pattern": "^(a+)+$"})
    assert time.perf_counter() - started < 2.0
    assert output["valid"] is False


def test_json_validate_bad_pattern_and_deep_schema():
    output = run("json_validate", document="a", schema={"properties": {"x": {"pattern": "("}}})
    assert output["schema_valid"] is False
    assert output["errors"][0]["path"] == "/properties/x/pattern"
    assert run("json_validate", document="a", schema={"pattern": "[[:alpha:]]"})["valid"] is True
    deep: dict = {"type": "array"}
    for _ in range(3_000):
        deep = {"items": deep}
    assert run("json_validate", document=[], schema=deep)["valid"] in (True, False)


def test_json_validate_boolean_schemas():
    assert run("json_validate", document={"a": 1}, schema=True)["valid"] is True
    assert run("json_validate", document={"a": 1}, schema=False)["valid"] is False


# echo


def test_echo():
    assert run("echo", message="héllo 😀") == {"echo": "héllo 😀", "length": 7}
    assert [e["path"] for e in validation_errors(find_tool("echo"), {"message": 1})] == ["/message"]
