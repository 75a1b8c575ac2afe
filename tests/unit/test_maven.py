"""The Maven builds behind Spark's jars and the servers are reused only when whole."""

from pathlib import Path

from jobs.runtime.config import load_settings
from jobs.runtime.spark import GRIDLAKE_JAR, package_jars


def test_a_build_whose_own_jar_is_gone_is_built_again(tmp_path: Path) -> None:
    settings = load_settings("test")
    settings.state_dir = tmp_path
    jars = package_jars(settings)
    own = Path(jars[0])
    assert own.name == GRIDLAKE_JAR and own.is_file()

    own.unlink()  # the dependency jars and the classpath file stay

    assert package_jars(settings) == jars
    assert own.is_file(), "rebuilt, not handed to Spark missing"
