"""Matching names across inputs: case, aliases, org/name ids, ambiguity."""

from rating.composite.matching import match_names


def test_case_insensitive_and_org_name():
    m = match_names(
        {
            "arena": ["Gemma-2-9B-it", "GPT-4o"],
            "benchmarks": ["google/gemma-2-9b-it", "other/model"],
        }
    )
    assert m.names == ["Gemma-2-9B-it", "GPT-4o", "other/model"]
    assert m.lookup("benchmarks", "google/gemma-2-9b-it") == 0
    assert m.missing("benchmarks") == ["GPT-4o"]
    assert m.missing("arena") == ["other/model"]
    assert {
        "input": "benchmarks",
        "name": "google/gemma-2-9b-it",
        "model": "Gemma-2-9B-it",
    } in m.renamed


def test_aliases_resolve_before_matching():
    m = match_names(
        {"arena": ["chocolate (Early Grok-3)"], "popularity": ["xai/grok-3"]},
        aliases={"XAI/Grok-3": "chocolate (early grok-3)"},
    )
    assert m.names == ["chocolate (Early Grok-3)"]
    assert m.lookup("popularity", "xai/grok-3") == 0


def test_ambiguous_plain_name_prefers_the_organization_and_is_reported():
    m = match_names(
        {
            "arena": ["Aya-Expanse-8B"],
            "benchmarks": ["jebish7/aya-expanse-8b", "CohereForAI/aya-expanse-8b"],
        },
        organizations={"Aya-Expanse-8B": "Cohere"},
    )
    assert m.lookup("benchmarks", "CohereForAI/aya-expanse-8b") == 0
    assert m.lookup("benchmarks", "jebish7/aya-expanse-8b") == 1  # stays its own model
    assert m.ambiguous == [
        {
            "name": "Aya-Expanse-8B",
            "candidates": ["jebish7/aya-expanse-8b", "CohereForAI/aya-expanse-8b"],
            "chosen": "CohereForAI/aya-expanse-8b",
            "rule": "organization",
        }
    ]


def test_ambiguous_without_organization_takes_the_first_seen():
    m = match_names({"arena": ["phi-4"], "benchmarks": ["microsoft/phi-4", "unsloth/phi-4"]})
    assert m.lookup("benchmarks", "microsoft/phi-4") == 0
    assert m.ambiguous[0]["rule"] == "first seen"


def test_two_names_of_one_model_in_one_input_are_reported_as_duplicates():
    m = match_names({"popularity": ["A", "b"]}, aliases={"b": "a"})
    assert m.names == ["A"]
    assert m.duplicates == [{"input": "popularity", "name": "b", "model": "A"}]
