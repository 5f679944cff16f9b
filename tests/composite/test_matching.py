"""Matching names across inputs: case, aliases, org/name ids, ambiguity."""

from rating.composite.matching import match_names


def test_case_insensitive_and_org_name():
    m = match_names(
        {
            "arena": ["Gemma-2-9B-it", "GPT-4o"],
            "benchmarks": ["google/gemma-2-9b-it", "other/model"],
        },
        organizations={"Gemma-2-9B-it": "Google"},
    )
    assert m.names == ["Gemma-2-9B-it", "GPT-4o", "other/model"]
    assert m.lookup("benchmarks", "google/gemma-2-9b-it") == 0
    assert m.missing("benchmarks") == ["GPT-4o"]
    assert m.missing("arena") == ["other/model"]
    assert {
        "input": "benchmarks",
        "name": "google/gemma-2-9b-it",
        "model": "Gemma-2-9B-it",
        "why": "same name after the organization; organization Google ~ google",
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
            "rule": "organization Cohere ~ CohereForAI",
        }
    ]


def test_without_organization_no_id_is_joined_and_the_refusal_says_why():
    m = match_names({"arena": ["phi-4"], "benchmarks": ["microsoft/phi-4", "unsloth/phi-4"]})
    assert m.names == ["phi-4", "microsoft/phi-4", "unsloth/phi-4"]
    assert m.ambiguous[0]["chosen"] is None
    assert {r["why"] for r in m.refused} == {"organization of phi-4 unknown: add an alias to join"}


def test_cross_organization_join_is_refused_unless_an_alias_says_so():
    names = {
        "arena": ["Llama-3-8B-Instruct"],
        "benchmarks": ["AI-Sweden-Models/Llama-3-8B-instruct"],
    }
    orgs = {"Llama-3-8B-Instruct": "Meta"}
    m = match_names(names, organizations=orgs)
    assert m.names == ["Llama-3-8B-Instruct", "AI-Sweden-Models/Llama-3-8B-instruct"]
    assert m.refused == [
        {
            "name": "Llama-3-8B-Instruct",
            "candidate": "AI-Sweden-Models/Llama-3-8B-instruct",
            "why": "organization Meta is not AI-Sweden-Models: add an alias to join",
        }
    ]
    # a model alias joins whatever the organizations
    m = match_names(
        names,
        aliases={"AI-Sweden-Models/Llama-3-8B-instruct": "Llama-3-8B-Instruct"},
        organizations=orgs,
    )
    assert m.names == ["Llama-3-8B-Instruct"]
    assert m.renamed[0]["why"].startswith("alias ")
    # an organization alias declares two organization names the same
    m = match_names(names, aliases={"org:Meta": "org:AI-Sweden-Models"}, organizations=orgs)
    assert m.names == ["Llama-3-8B-Instruct"]
    assert "organization alias" in m.renamed[0]["why"]


def test_two_ids_of_the_same_organization_are_ambiguous_and_refused():
    m = match_names(
        {"arena": ["Yi"], "benchmarks": ["01-ai/yi", "01ai/yi"]}, organizations={"Yi": "01 AI"}
    )
    assert m.lookup("benchmarks", "01-ai/yi") != 0 and m.lookup("benchmarks", "01ai/yi") != 0
    assert all(r["why"].startswith("ambiguous") for r in m.refused)


def test_two_names_of_one_model_in_one_input_are_reported_as_duplicates():
    m = match_names({"popularity": ["A", "b"]}, aliases={"b": "a"})
    assert m.names == ["A"]
    assert m.duplicates == [{"input": "popularity", "name": "b", "model": "A"}]
