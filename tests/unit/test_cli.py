"""The command line's answers to bad input: one line naming what is wrong, non-zero exit."""

import pytest
from typer.testing import CliRunner

from jobs.cli import app


def test_bad_config_value_stops_the_cli_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLAKE_LAKE__FORMAT", "csv")
    result = CliRunner().invoke(app, ["services", "status", "--env", "test"])
    assert result.exit_code == 2
    assert "lake.format" in result.stderr and "'parquet'" in result.stderr


def test_unknown_environment_is_named() -> None:
    result = CliRunner().invoke(app, ["run", "smoke", "--env", "staging"])
    assert result.exit_code == 2
    assert "'staging'" in result.stderr


def test_unknown_dataset_is_named() -> None:
    result = CliRunner().invoke(app, ["load-real", "solar", "--env", "test"])
    assert result.exit_code == 2
    assert "unknown dataset 'solar'" in result.stderr
