"""Apache Kafka's jars from Maven Central (``monitor.embedded.maven``), fetched once into a
cache folder. ``LOVELORN_KAFKA_JARS`` moves the cache (CI keeps it between runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from monitor.cache import cache_root
from monitor.embedded.maven import MAVEN_MISSING, copy_dependencies
from monitor.errors import ServiceError

__all__ = ["KAFKA_VERSION", "ensure_jars", "jars_dir", "missing_tools"]

KAFKA_VERSION = "4.4.0"
JARS_ENV = "LOVELORN_KAFKA_JARS"


def _java_major() -> int | None:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(found.group(1)) if found else None


def jars_dir(version: str = KAFKA_VERSION) -> Path:
    base = os.environ.get(JARS_ENV)
    root = Path(base) if base else cache_root() / "kafka"
    return root / version


def missing_tools(version: str = KAFKA_VERSION) -> str | None:
    """Why real Kafka cannot run here (None when it can): the test tier's skip reason."""
    java = _java_major() if shutil.which("java") else None
    if java is None:
        return "no java on PATH (apt-get install -y openjdk-17-jre-headless)"
    if java < 17:
        return f"java {java} is too old: Apache Kafka 4 needs Java 17 or newer"
    if not any((jars_dir(version) / "libs").glob("kafka_2.13-*.jar")) and not shutil.which("mvn"):
        return MAVEN_MISSING
    return None


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """The broker's jars, fetched from Maven Central into the cache on first use."""
    folder = jars_dir(version)
    libs = folder / "libs"
    if any(libs.glob("kafka_2.13-*.jar")):
        return libs
    if (reason := missing_tools(version)) is not None:
        raise ServiceError(f"cannot run Apache Kafka: {reason}")
    return copy_dependencies(
        folder,
        "kafka-jars",
        [
            f"org.apache.kafka:kafka_2.13:{version}",
            # the broker logs through log4j2; Kafka declares slf4j-api 1.7, the binding needs 2.x
            "org.apache.logging.log4j:log4j-slf4j2-impl:2.26.1",
            "org.apache.logging.log4j:log4j-core:2.26.1",
            "org.slf4j:slf4j-api:2.0.17",
        ],
    )
