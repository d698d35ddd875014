"""Apache Kafka's jars from Maven Central, fetched once into a cache folder.

Maven does only this (``dependency:copy-dependencies`` on a pom of four dependencies);
the folder is filled atomically, so an interrupted fetch is never taken for a complete one.
``LOVELORN_KAFKA_JARS`` moves the cache (CI keeps it between runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from monitor.errors import ServiceError

__all__ = ["KAFKA_VERSION", "ensure_jars", "jars_dir", "missing_tools"]

KAFKA_VERSION = "4.4.0"
JARS_ENV = "LOVELORN_KAFKA_JARS"
_POM = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Only fetches Apache Kafka's jars (dependency:copy-dependencies); nothing is built. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lovelorn.test</groupId><artifactId>kafka-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version></dependency>
    <!-- the broker logs through log4j2; Kafka declares slf4j-api 1.7, the binding needs 2.x -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>2.26.1</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>2.26.1</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>2.0.17</version></dependency>
  </dependencies>
  <build><pluginManagement><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
    <version>3.8.1</version>
  </plugin></plugins></pluginManagement></build>
</project>
"""


def _java_major() -> int | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(found.group(1)) if found else None


def jars_dir(version: str = KAFKA_VERSION) -> Path:
    base = os.environ.get(JARS_ENV)
    root = Path(base) if base else Path.home() / ".cache" / "lovelorn" / "kafka"
    return root / version


def missing_tools(version: str = KAFKA_VERSION) -> str | None:
    """Why real Kafka cannot run here (None when it can): the test tier's skip reason."""
    java = _java_major() if shutil.which("java") else None
    if java is None:
        return "no java on PATH (apt-get install -y openjdk-17-jre-headless)"
    if java < 17:
        return f"java {java} is too old: Apache Kafka 4 needs Java 17 or newer"
    if not any((jars_dir(version) / "libs").glob("kafka_2.13-*.jar")) and not shutil.which("mvn"):
        return "no mvn on PATH to fetch Apache Kafka's jars (apt-get install -y maven)"
    return None


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """The broker's jars, fetched from Maven Central into the cache on first use."""
    folder = jars_dir(version)
    libs = folder / "libs"
    if any(libs.glob("kafka_2.13-*.jar")):
        return libs
    if (reason := missing_tools(version)) is not None:
        raise ServiceError(f"cannot run Apache Kafka: {reason}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pom.xml").write_text(_POM.format(version=version))
    staging = folder / f".libs-{os.getpid()}"
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
    if done.returncode != 0:
        raise ServiceError(
            f"fetching Apache Kafka {version} with Maven failed: {done.stdout[-500:]}"
        )
    staging.replace(libs)  # atomic: a half-fetched folder is never taken for a complete one
    return libs
