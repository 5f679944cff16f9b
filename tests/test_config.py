"""config.toml documents every default exactly as arena.config.DEFAULTS has it."""

import re
import tomllib
from pathlib import Path

import pytest

from arena.config import DEFAULTS, ConfigError, load

ROOT = Path(__file__).resolve().parents[1]


def test_config_toml_matches_defaults():
    with open(ROOT / "config.toml", "rb") as fh:
        assert tomllib.load(fh) == DEFAULTS


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
    assert s.secret_key == s.secret_key
    assert len(s.secret_key) == 64
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
        ('[rating]\nrecompute_every = "often"\n', "rating.recompute_every must be a number"),
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
        "[rating]\nconfidence = 1\nbootstrap = 20\n[rank.categories]\nmath = ['gsm8k']\n"
        "[judges.smol]\nmodel = 'x'\n"
    )
    settings = load(cfg, env={})
    assert settings["rating"]["confidence"] == 1 and settings["rating"]["bootstrap"] == 20
    assert (
        settings["rank"]["categories"] == {"math": ["gsm8k"]}
        and settings["judges"]["smol"]["model"] == "x"
    )


def test_a_config_path_that_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(None, env={"ARENA_CONFIG": str(tmp_path)})  # a folder
