"""Every JVM gridlake starts must run on Java 17, whatever the machine's default."""

from pathlib import Path

import pytest

from jobs.runtime.config import ConfigError, load_settings
from jobs.runtime.java import java_17_home, java_environment


def fake_java_home(root: Path, version: str) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "java").write_text("#!/bin/sh\n")
    (root / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{version}"\n')
    return root


def test_java_17_home_is_accepted_and_put_first_on_path(tmp_path: Path) -> None:
    settings = load_settings("test")
    settings.java_home = fake_java_home(tmp_path / "jdk17", "17.0.15")
    env = java_environment(settings)
    assert env["JAVA_HOME"] == str(tmp_path / "jdk17")
    assert env["PATH"].split(":")[0] == str(tmp_path / "jdk17" / "bin")


def test_newer_java_is_refused_naming_the_key(tmp_path: Path) -> None:
    settings = load_settings("test")
    settings.java_home = fake_java_home(tmp_path / "jdk25", "25.0.1")
    with pytest.raises(ConfigError, match=r"key java_home = .*jdk25.*Java 25.*needs Java 17"):
        java_17_home(settings)


def test_missing_java_is_refused(tmp_path: Path) -> None:
    settings = load_settings("test")
    settings.java_home = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match=r"no bin/java"):
        java_17_home(settings)
