"""The typed settings layer: defaults, precedence, kinds, ranges, unknown keys."""

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from arena.config import SECTIONS, ConfigError, defaults, load

ROOT = Path(__file__).resolve().parents[1]


def test_config_toml_matches_defaults():
    with open(ROOT / "config.toml", "rb") as fh:
        assert tomllib.load(fh) == defaults()


def test_environment_overrides_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "sqlite:///from-file.db"\n[arena]\ninstance = "inst"\n')
    s = load(cfg, env={})
    assert s.database_url == "sqlite:///from-file.db"
    assert s.instance_path == (tmp_path / "inst").resolve()
    s = load(cfg, env={"ARENA_DATABASE_URL": "sqlite:///env.db", "ARENA_REDIS_URL": "redis://x"})
    assert s.database_url == "sqlite:///env.db"
    assert s.redis_url == "redis://x"


def test_default_database_is_sqlite_in_instance(tmp_path):
    s = load(None, env={"ARENA_INSTANCE": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'arena.db'}"


def test_secret_key_generated_once(tmp_path):
    s = load(None, env={"ARENA_INSTANCE": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()
    key = s.secret_key
    assert len(key) == 64 and int(key, 16) >= 0
    assert (tmp_path / "secret_key").read_text().strip() == key
    again = load(None, env={"ARENA_INSTANCE": str(tmp_path)})
    assert again.secret_key == s.secret_key  # kept in the instance folder
    (tmp_path / "secret_key").unlink()
    assert s.secret_key == again.secret_key  # read once, not on every use


@pytest.mark.parametrize("text", ["[arena\n", "x = = 1"])
def test_broken_config_is_a_clear_error(tmp_path, text):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=r"c\.toml"):
        load(cfg, env={})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml", env={})


@pytest.mark.parametrize(
    "text, message",
    [
        ('database = "x"\n', "database must be a table, got str 'x'"),
        ("[database]\nurl = 5\n", "database.url must be a string, got int 5"),
        ('[rating]\nrecompute_every = "often"\n', "rating.recompute_every must be a whole number"),
        ("[rating]\nbootstrap = 2.5\n", "rating.bootstrap must be a whole number, got float 2.5"),
        ("[rating]\nbootstrap = -1\n", "rating.bootstrap must be at least 0, got -1"),
        ("[rating]\nconfidence = 1\n", "rating.confidence must be between 0 and 1 (exclusive)"),
        ('[rating]\nmethod = "glicko"\n', "rating.method must be one of bt, davidson, elo"),
        ('[rating]\ncomponents = "all"\n', "rating.components must be one of largest, each"),
        ('[rank]\nnormalize = "rank"\n', "rank.normalize must be one of minmax, percentile"),
        ("[rank]\nmin_coverage = 2\n", "rank.min_coverage must be in [0, 1], got 2"),
        ("[worker]\nvote_batch_size = 0\n", "worker.vote_batch_size must be at least 1"),
        ("[worker]\nqueues = [1]\n", "worker.queues must be a list of strings"),
        ("[worker]\nnice = 20\n", "worker.nice must be from 0 to 19, got 20"),
        ('[rank.weights]\narena = "half"\n', "rank.weights.arena must be a number"),
        ("[limits]\nenabled = 1\n", "limits.enabled must be true or false"),
        ('[worker]\nqueues = "votes"\n', "worker.queues must be a list"),
    ],
)
def test_a_setting_of_the_wrong_kind_is_a_clear_error(tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match="c.toml: " + re.escape(message)):
        load(cfg, env={})


def test_settings_of_the_right_kind_are_taken(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[rating]\nconfidence = 0.9\nbootstrap = 20\n[rank.categories]\ncoding = ['a']\n"
        "[judges.smol]\nmodel = 'x'\n"
    )
    settings = load(cfg, env={})
    assert settings["rating"]["confidence"] == 0.9 and settings.rating.bootstrap == 20
    assert settings.rank.categories == {"coding": ("a",)}
    assert settings.judges["smol"]["model"] == "x"
    assert settings.rating.method == "bt"  # untouched keys keep their defaults


def test_a_config_path_that_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(None, env={"ARENA_CONFIG": str(tmp_path)})  # a folder


@pytest.mark.parametrize(
    "text, message",
    [
        ("[rating]\nbootsrap = 10\n", "[rating] has no key 'bootsrap' (did you mean 'bootstrap'?)"),
        ("[ratng]\nbootstrap = 10\n", "unknown section [ratng] (did you mean 'rating'?)"),
        (
            "[limits]\nvotez = '1 per second'\n",
            "[limits] has no key 'votez' (did you mean 'votes'?)",
        ),
        ("[database]\nxyzzy = 1\n", "[database] has no key 'xyzzy'"),
        ("[rank.weights.x]\ny = 1\n", "rank.weights.x must be a number, got dict {'y': 1}"),
    ],
)
def test_an_unknown_key_or_section_is_refused_with_the_nearest(tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(cfg, env={})
    assert str(info.value) == f"{cfg}: {message}"


def test_sections_are_frozen_and_replace_makes_new_settings(tmp_path):
    s = load(None, env={"ARENA_INSTANCE": str(tmp_path)})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.rating.bootstrap = 5
    t = s.replace(rating={"bootstrap": 5})
    assert t.rating.bootstrap == 5 and s.rating.bootstrap == 1000
    assert t.rating.seed == s.rating.seed and t.instance_path == s.instance_path
    with pytest.raises(ConfigError, match="has no key 'bootstrp'"):
        s.replace(rating={"bootstrp": 5})


def test_every_section_has_a_default_for_every_key():
    for name, cls in SECTIONS.items():
        cls()  # no required fields: every default lives in the dataclass
        assert set(defaults()[name]) <= {f.name for f in dataclasses.fields(cls)}


def test_overrides_are_checked_like_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"rating\.bootstrap must be a whole number"):
        load(None, env={}, overrides={"rating": {"bootstrap": "many"}})


def test_every_key_is_documented():
    """docs/configuration.md has a row for every key of every section."""
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = [
        f"[{name}] {f.name}"
        for name, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
        if f"| `[{name}] {f.name}` |" not in page
    ]
    assert not missing, f"document these settings in docs/configuration.md: {missing}"
