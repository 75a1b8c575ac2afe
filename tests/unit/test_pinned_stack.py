"""The installed stack is the one docs/decisions/pinned-stack.md pins (a wrong resolver pick breaks Spark silently)."""

from importlib import metadata

import pyspark
import pytest


def test_pyspark_is_the_pinned_3_5_9() -> None:
    assert pyspark.__version__ == "3.5.9"


def test_no_pyspark_client_was_installed_over_pyspark() -> None:
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("pyspark-client")


@pytest.mark.parametrize(
    ("distribution", "major_minor"),
    [
        pytest.param("delta-spark", "3.3", id="delta"),
        pytest.param("apache-airflow", "3.3", id="airflow"),
        pytest.param("elasticsearch", "8.", id="es-client-8-for-an-8-server"),
        pytest.param("apache-airflow-providers-apache-spark", "5.", id="spark-provider-5"),
    ],
)
def test_pinned_distribution_versions(distribution: str, major_minor: str) -> None:
    assert metadata.version(distribution).startswith(major_minor)
