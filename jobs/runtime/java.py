"""The one Java every gridlake JVM runs on.

Cassandra 5.0 runs only on Java 11 or 17 and Spark 3.5 not beyond 17, while machines may
default to a newer Java. Every JVM we start (services, Spark's gateway, spark-submit)
therefore takes its java from the configured ``java_home``, never from the PATH.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from jobs.runtime.config import ConfigError, Settings

REQUIRED_MAJOR = 17


def _release_field(java_home: Path, name: str) -> str | None:
    """A field of ``java_home/release`` (``JAVA_VERSION``, ...), or None if unreadable."""
    release = java_home / "release"
    if not release.is_file():
        return None
    match = re.search(rf'^{name}="([^"]*)"', release.read_text(), re.MULTILINE)
    return match.group(1) if match else None


def java_major_version(java_home: Path) -> int | None:
    """The major version that ``java_home/release`` declares, or None if unreadable."""
    version = _release_field(java_home, "JAVA_VERSION")
    match = re.match(r"\d+", version or "")
    return int(match.group(0)) if match else None


def java_runtime_version(java_home: Path) -> str | None:
    """The full runtime version (build and vendor suffix included) ``java_home/release``
    declares, or None if unreadable."""
    return _release_field(java_home, "JAVA_RUNTIME_VERSION")


def java_17_home(settings: Settings) -> Path:
    """Check the configured java_home holds a Java 17 and return it."""
    home = settings.java_home
    if not (home / "bin" / "java").is_file():
        raise ConfigError(f"key java_home = '{home}': no bin/java there (set GRIDLAKE_JAVA_HOME to a Java 17)")
    major = java_major_version(home)
    if major != REQUIRED_MAJOR:
        raise ConfigError(f"key java_home = '{home}': Java {major}, but gridlake needs Java {REQUIRED_MAJOR}")
    return home


def java_environment(settings: Settings) -> dict[str, str]:
    """A copy of this process's environment with JAVA_HOME and PATH on Java 17."""
    home = java_17_home(settings)
    env = dict(os.environ)
    env["JAVA_HOME"] = str(home)
    env["PATH"] = f"{home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env
