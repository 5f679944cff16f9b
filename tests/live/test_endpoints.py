"""[models.NAME] tables and [live] settings: typed, checked when the settings load."""

from __future__ import annotations

import pytest

from arena.config import ConfigError, load
from arena.endpoints import ModelEndpoint, endpoints


def _load(models: dict, **more):
    return load(None, env={}, overrides={"models": models, **more})


def test_a_model_table_is_typed_with_defaults():
    s = _load(
        {
            "alpha": {"base_url": "http://127.0.0.1:9/v1/", "aliases": ["Alpha-Bot"]},
            "beta": {"base_url": "https://api.example/v1", "model": "b-7b", "temperature": 0},
        }
    )
    eps = endpoints(s)
    assert list(eps) == ["alpha", "beta"]
    a, b = eps["alpha"], eps["beta"]
    assert isinstance(a, ModelEndpoint)
    assert a.base_url == "http://127.0.0.1:9/v1" and a.served_model == "alpha"
    assert a.aliases == ("Alpha-Bot",) and a.identity_names() == ("alpha", "Alpha-Bot")
    assert b.served_model == "b-7b" and b.temperature == 0.0 and b.host == "api.example"
    assert b.generation_settings()["served_model"] == "b-7b"
    assert s.live.max_turns == 5 and s.limits.generate == "20 per minute"


@pytest.mark.parametrize(
    "table, message",
    [
        ({"base_url": "http://x/v1", "temprature": 1}, r"has no key 'temprature' \(did you mean"),
        ({}, "models.m.base_url is missing"),
        ({"base_url": "ftp://x"}, "base_url must start with http:// or https://"),
        ({"base_url": "http://x", "max_tokens": 0}, "max_tokens must be at least 1"),
        ({"base_url": "http://x", "max_tokens": 2.5}, "max_tokens must be a whole number"),
        ({"base_url": "http://x", "timeout": 0}, "timeout must be above 0"),
        ({"base_url": "http://x", "temperature": 3}, r"temperature must be in \[0, 2\]"),
        ({"base_url": "http://x", "top_p": 0}, r"top_p must be in \(0, 1\]"),
        ({"base_url": "http://x", "aliases": "a"}, "aliases must be a list of strings"),
        ({"base_url": "http://x", "aliases": [1]}, "aliases must be a list of strings"),
        ({"base_url": "http://x", "concurrency": True}, "concurrency must be a whole number"),
    ],
)
def test_bad_model_tables_are_refused_naming_the_key(table, message):
    with pytest.raises(ConfigError, match=message):
        _load({"m": table})


def test_a_models_section_that_is_no_table_of_tables_is_refused():
    with pytest.raises(ConfigError, match=r"models must be a table of \[models.NAME\] tables"):
        _load({"m": "http://x"})


def test_live_settings_are_checked(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[live]\nmax_turns = 0\n")
    with pytest.raises(ConfigError, match=r"live\.max_turns must be at least 1"):
        load(cfg, env={})
    cfg.write_text("[live]\nmax_turn = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'max_turns'"):
        load(cfg, env={})
    cfg.write_text('[models.m]\nbase_url = "http://127.0.0.1:1/v1"\n')
    assert endpoints(load(cfg, env={}))["m"].base_url == "http://127.0.0.1:1/v1"


def test_replace_keeps_the_models():
    s = _load({"m": {"base_url": "http://x/v1"}})
    assert endpoints(s.replace(live={"max_turns": 2}))["m"].base_url == "http://x/v1"


def test_api_key_comes_from_the_environment(monkeypatch):
    ep = endpoints(_load({"m": {"base_url": "http://x/v1", "api_key_env": "ARENA_T_KEY"}}))["m"]
    monkeypatch.delenv("ARENA_T_KEY", raising=False)
    with pytest.raises(ConfigError, match="ARENA_T_KEY is not set"):
        ep.api_key()
    monkeypatch.setenv("ARENA_T_KEY", "sekret")
    assert ep.api_key() == "sekret"
