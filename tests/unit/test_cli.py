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


@pytest.mark.parametrize(("arguments", "message"), [
    pytest.param(["--near", "95,19.8"], "latitude 95.0 is outside -90..90", id="latitude"),
    pytest.param(["--kwh", "10-20"], "expected MIN..MAX", id="range"),
    pytest.param(["--type", "windmill"], "unknown type", id="type"),
    pytest.param(["--kwh", "nan.."], "both ends must be finite", id="range-nan"),
    pytest.param(["--kwh", "1e999.."], "both ends must be finite", id="range-infinite"),
])
def test_bad_search_input_exits_2_with_one_line(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["search", *arguments, "--env", "test"])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_backfill_names_an_unknown_stage() -> None:
    result = CliRunner().invoke(app, ["backfill", "--start", "2024-10-01", "--end", "2024-10-02",
                                      "--stages", "extract,ingest", "--env", "test"])
    assert result.exit_code == 2
    assert "unknown stage 'ingest'" in result.stderr


def test_backfill_refuses_an_end_before_the_start() -> None:
    result = CliRunner().invoke(app, ["backfill", "--start", "2024-10-02", "--end", "2024-10-01", "--env", "test"])
    assert result.exit_code == 2
    assert "end date 2024-10-01 is before start date 2024-10-02" in result.stderr


@pytest.mark.parametrize("month", ["*", "2024-*", "2024-13", "../2024-10"])
def test_an_index_month_is_a_month_never_a_pattern(month: str) -> None:
    """The index name is built from it: a pattern would name (and roll back) every month."""
    for command in (["index", "rollback"], ["index", "versions"]):
        result = CliRunner().invoke(app, [*command, "--alias", "readings-daily", "--month", month, "--env", "test"])
        assert result.exit_code == 2, command
        assert f"--month {month!r}: not a month YYYY-MM" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(("arguments", "message"), [
    pytest.param(["backfill", "--start", "2024-01-01", "--end", "2025-01-01"],
                 "2024-01-01..2025-01-01 is 367 days, more than backfill.max_days = 366", id="backfill-range"),
    pytest.param(["run", "extract", "--date", "2020-01-01", "--end", "2030-01-01"],
                 "is 3,654 days, more than backfill.max_days = 366", id="run-range"),
    pytest.param(["backfill", "--start", "2024-01-01", "--end", "2024-01-02", "--parallel", "5"],
                 "--parallel 5: more than backfill.max_parallel = 4", id="parallel"),
    pytest.param(["airflow", "test-day", "--date", "2024-10-26", "--dag", "../dags/grid_daily"],
                 "--dag '../dags/grid_daily': not a DAG of dags/ (known: grid_daily, grid_maintenance)", id="dag-path"),
    pytest.param(["runs", "--date", "2024-10-26", "--env", "../conf/test"], "environment '../conf/test'", id="env-path"),
])
def test_bounds_and_paths_exit_2_with_one_line_before_any_work(arguments: list[str], message: str) -> None:
    env = [] if "--env" in arguments else ["--env", "test"]
    result = CliRunner().invoke(app, [*arguments, *env])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_a_negative_seed_is_refused() -> None:
    result = CliRunner().invoke(app, ["seed", "--meters", "2", "--days", "1", "--start", "2024-01-01", "--seed", "-5",
                                      "--env", "test"])
    assert result.exit_code == 2 and "--seed" in result.stderr


def test_airflow_env_prints_passwords_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLAKE_REDIS__PASSWORD", "s3cret-for-the-test")
    masked = CliRunner().invoke(app, ["airflow", "env", "--env", "test"])
    shown = CliRunner().invoke(app, ["airflow", "env", "--show-secrets", "--env", "test"])
    assert masked.exit_code == shown.exit_code == 0
    assert "s3cret-for-the-test" not in masked.stdout and '"password":"***"' in masked.stdout
    assert "AIRFLOW_CONN_REDIS_DEFAULT" in masked.stderr
    assert "s3cret-for-the-test" in shown.stdout
