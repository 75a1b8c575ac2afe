"""Build a Java classpath from a small Maven project in conf/ (servers, Spark's packages).

Maven downloads into the standard local repository (~/.m2, or ``maven_repo`` in conf) and
writes the classpath into the state dir under a name derived from the project's files and
properties. While that file exists, every jar on it does too, and so do the project's own
products (its jar), starting the server needs neither Maven nor the network; editing the pom
or its sources makes a new name, so a stale build is never reused.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path


class MavenError(RuntimeError):
    """Maven could not resolve or build a project; the message carries Maven's first error."""


def _fingerprint(project_dir: Path, properties: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in project_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(project_dir)).encode())
        digest.update(path.read_bytes())
    for key, value in sorted(properties.items()):
        digest.update(f"{key}={value}".encode())
    return digest.hexdigest()[:12]


def _finished_classpath(classpath_file: Path, output_dir: Path, products: tuple[str, ...]) -> str | None:
    """The classpath a build wrote, if the build is whole: the file, every jar on it and every
    one of the project's ``products`` in ``output_dir`` exist."""
    if not classpath_file.is_file() or not all((output_dir / product).is_file() for product in products):
        return None
    classpath = classpath_file.read_text().strip()
    if classpath and all(Path(jar).exists() for jar in classpath.split(":")):
        return classpath
    return None


@dataclass(frozen=True)
class MavenBuild:
    """What a build left: the dependencies' classpath and the project's own output folder."""

    classpath: str
    output_dir: Path


def build_location(pom: Path, properties: dict[str, str], build_dir: Path) -> Path:
    """The folder a build of ``pom`` with ``properties`` writes into (there or not yet)."""
    return build_dir / _fingerprint(pom.parent, properties)


def maven_classpath(
    pom: Path,
    goals: list[str],
    properties: dict[str, str],
    build_dir: Path,
    env: dict[str, str],
    maven_repo: Path | None,
    products: tuple[str, ...] = (),
) -> MavenBuild:
    """Run ``goals`` on ``pom`` once and return the classpath it writes.

    The goals must write the classpath to the file named by the ``gridlake.classpath.file``
    property and may build into ``gridlake.build.dir``; both are passed in. ``products``: the
    files the goals leave in that folder (the project's jar); a build missing one is redone.
    """
    output_dir = build_location(pom, properties, build_dir)
    classpath_file = build_dir / f"classpath-{output_dir.name}.txt"
    cached = _finished_classpath(classpath_file, output_dir, products)
    if cached is not None:
        return MavenBuild(cached, output_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    every = {**properties, "gridlake.classpath.file": str(classpath_file), "gridlake.build.dir": str(output_dir)}
    argv = ["mvn", "-B", "-q", "-f", str(pom), *goals, *[f"-D{k}={v}" for k, v in every.items()]]
    if maven_repo is not None:
        argv.append(f"-Dmaven.repo.local={maven_repo.expanduser()}")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    classpath = _finished_classpath(classpath_file, output_dir, products)
    if done.returncode != 0 or classpath is None:
        error = next((line for line in done.stdout.splitlines() if "[ERROR]" in line), done.stdout[-500:])
        raise MavenError(f"maven: building {pom} failed: {error.strip() or done.stderr[-500:]}")
    return MavenBuild(classpath, output_dir)
