"""Configuration layering and the errors a user sees for bad values."""

from pathlib import Path

import pytest

from jobs.runtime.config import ConfigError, RedisConf, load_settings


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text("spark:\n  master: 'local[*]'\n  shuffle_partitions: 8\nlake:\n  format: delta\n")
    (tmp_path / "local.yaml").write_text("spark:\n  shuffle_partitions: 4\n")
    return tmp_path


def test_env_file_overrides_base_and_keeps_the_rest(conf_dir: Path) -> None:
    settings = load_settings("local", conf_dir)
    assert settings.spark.shuffle_partitions == 4
    assert settings.spark.master == "local[*]"


def test_environment_variable_overrides_both_files(conf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLAKE_SPARK__SHUFFLE_PARTITIONS", "2")
    monkeypatch.setenv("GRIDLAKE_LAKE__FORMAT", "orc")
    settings = load_settings("local", conf_dir)
    assert (settings.spark.shuffle_partitions, settings.lake.format) == (2, "orc")


@pytest.mark.parametrize(
    ("variable", "value", "expected_words"),
    [
        pytest.param("GRIDLAKE_LAKE__FORMAT", "csv", ["lake.format", "'csv'", "'delta'", "'parquet'", "'orc'"],
                     id="format-names-allowed-values"),
        pytest.param("GRIDLAKE_SPARK__SHUFFLE_PARTITIONS", "0", ["spark.shuffle_partitions", "greater than or equal to 1"],
                     id="partitions-below-one"),
        pytest.param("GRIDLAKE_CASSANDRA__PORT", "port", ["cassandra.port", "'port'", "integer"],
                     id="port-not-a-number"),
    ],
)
def test_bad_environment_value_names_the_key(
    conf_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected_words: list[str]
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings("local", conf_dir)
    message = str(raised.value)
    assert "\n" not in message
    for word in expected_words:
        assert word in message


def test_unknown_key_in_a_file_is_named(conf_dir: Path) -> None:
    (conf_dir / "local.yaml").write_text("spark:\n  mastr: yarn\n")
    with pytest.raises(ConfigError, match=r"key spark\.mastr"):
        load_settings("local", conf_dir)


def test_password_in_a_file_is_refused_with_the_variable_to_use(conf_dir: Path) -> None:
    (conf_dir / "local.yaml").write_text("cassandra:\n  password: hunter2\n")
    with pytest.raises(ConfigError, match=r"local\.yaml: key cassandra\.password.*GRIDLAKE_CASSANDRA__PASSWORD"):
        load_settings("local", conf_dir)


def test_password_from_the_environment_is_kept_secret(conf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLAKE_CASSANDRA__PASSWORD", "hunter2")
    settings = load_settings("local", conf_dir)
    assert settings.cassandra.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_unknown_environment_lists_the_known_ones(conf_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"'prod'.*known: local"):
        load_settings("prod", conf_dir)


def test_broken_yaml_names_file_and_line(conf_dir: Path) -> None:
    (conf_dir / "local.yaml").write_text("spark:\n  master: [unclosed\n")
    with pytest.raises(ConfigError, match=r"local\.yaml:3"):
        load_settings("local", conf_dir)


def test_project_configuration_files_are_valid() -> None:
    for env in ("local", "test"):
        assert load_settings(env).env == env


def test_unknown_cache_key_family_lists_the_known_ones(conf_dir: Path) -> None:
    (conf_dir / "local.yaml").write_text("cache:\n  family_ttl_days:\n    meter_weekly: 3\n")
    with pytest.raises(ConfigError, match=r"cache\.family_ttl_days.*unknown key family 'meter_weekly'.*meter_daily"):
        load_settings("local", conf_dir)


@pytest.mark.parametrize(("url", "server"), [("redis://127.0.0.1:6379/0", ("127.0.0.1", 6379, 0)),
                                             ("rediss://cache.example:6380/3", ("cache.example", 6380, 3)),
                                             ("redis://cache.example", ("cache.example", 6379, 0))])
def test_the_redis_server_is_read_from_the_url(url: str, server: tuple) -> None:
    assert RedisConf(url=url).server == server
