import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings import load_settings


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOVELORN_KAFKA__BOOTSTRAP_SERVERS", "k1:9092, k2:9093")
    monkeypatch.setenv("LOVELORN_SCORER__MAX_BATCH", "64")
    s = load_settings()
    assert s.kafka.bootstrap_servers == "k1:9092,k2:9093"
    assert s.scorer.max_batch == 64
    assert s.kafka.comments_topic == "weibo.comments"


def test_toml_file_and_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "lovelorn.toml"
    cfg.write_text(
        '[kafka]\nbootstrap_servers = "file:9092"\npartitions = 6\n'
        '[[weibo.posts]]\npost_id = "4900000000000001"\ninterval_s = 60\n'
    )
    monkeypatch.setenv("LOVELORN_KAFKA__PARTITIONS", "8")
    s = load_settings(cfg)
    assert s.kafka.bootstrap_servers == "file:9092"
    assert s.kafka.partitions == 8  # environment beats the file
    assert s.weibo.posts[0].post_id == "4900000000000001"


@pytest.mark.parametrize(
    "value", [":::", "host", "host:0", "host:99999", "ho st:1", ":9092", "a..b:1"]
)
def test_bad_bootstrap_servers(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOVELORN_KAFKA__BOOTSTRAP_SERVERS", value)
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap_servers"):
        load_settings()


@pytest.mark.parametrize("value", ["[::1]:9092", "localhost:9092", "kafka-0.kafka:9092"])
def test_good_bootstrap_servers(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOVELORN_KAFKA__BOOTSTRAP_SERVERS", value)
    assert load_settings().kafka.bootstrap_servers == value


def test_unknown_key_in_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[kafka]\nbootstrap_server = 'x:1'\n")
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap_server: Extra inputs"):
        load_settings(cfg)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[kafka\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOVELORN_WEIBO__COOKIE", "SUB=topsecret")
    monkeypatch.setenv("LOVELORN_REDIS__PASSWORD", "hunter2")
    s = load_settings()
    assert s.weibo.cookie is not None and s.weibo.cookie.get_secret_value() == "SUB=topsecret"
    dumped = json.dumps(s.masked())
    assert "topsecret" not in dumped and "hunter2" not in dumped


def _cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOVELORN_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-c", "from monitor.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def test_cli_bad_setting_is_one_line(tmp_path: Path) -> None:
    result = _cli("config", "show", env={"LOVELORN_KAFKA__BOOTSTRAP_SERVERS": ":::"}, cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: invalid settings: kafka.bootstrap_servers: ':::' is not host:port"
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_unknown_toml_key_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[scorer]\nmax_bach = 3\n")
    result = _cli("--config", str(cfg), "config", "show", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "scorer.max_bach: Extra inputs are not permitted" in lines[0]


def test_cli_config_show_masks_secret(tmp_path: Path) -> None:
    result = _cli("config", "show", env={"LOVELORN_WEIBO__COOKIE": "SUB=abc123"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["weibo"]["cookie"] == "**********"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:pw@h/x", "https://u:**********@h/x"),
        ("redis://:hunter2@redis.internal:6379/0", "redis://:**********@redis.internal:6379/0"),
        ("https://TOKEN@hooks.example/x?a=b@c", "https://**********@hooks.example/x?a=b@c"),
        ("https://u:p@ss@[::1]:bad/x", "https://u:**********@[::1]:bad/x"),  # never raises
        ("https://hooks.example/x@y", "https://hooks.example/x@y"),  # an @ in the path only
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url_hides_every_userinfo(url: str, shown: str) -> None:
    from monitor.settings import mask_url

    assert mask_url(url) == shown


def test_config_show_masks_credentials_in_every_url(tmp_path: Path) -> None:
    """Not only the Redis URL: the webhook URL too, and any URL-valued setting (TOML lists
    included), without a list of which settings hold URLs."""
    cfg = tmp_path / "lovelorn.toml"
    cfg.write_text('[weibo]\nbase_url = "https://weibo-user:weibo-pass@m.weibo.cn"\n')
    env = {
        "LOVELORN_WEBHOOK__URL": "https://u:pw-webhook@h/x",
        "LOVELORN_REDIS__URL": "redis://:pw-redis@redis.internal:6379/0",
    }
    result = _cli("--config", str(cfg), "config", "show", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pw-webhook" not in result.stdout and "pw-redis" not in result.stdout
    assert "weibo-pass" not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["webhook"]["url"] == "https://u:**********@h/x"
    assert shown["redis"]["url"] == "redis://:**********@redis.internal:6379/0"
    assert shown["weibo"]["base_url"] == "https://weibo-user:**********@m.weibo.cn"


def test_console_security_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOVELORN_CONSOLE__SESSION_IDLE_S", "900")
    monkeypatch.setenv("LOVELORN_CONSOLE__LOGIN__FREE_FAILURES", "3")
    s = load_settings()
    assert s.console.session_idle_s == 900 and s.console.login.free_failures == 3
    assert s.console.login.backoff_s == 1.0 and s.console.login.backoff_cap_s == 900.0
    monkeypatch.setenv("LOVELORN_CONSOLE__LOGIN__FORGET_S", "60")
    with pytest.raises(ConfigError, match="forget_s must be at least backoff_cap_s"):
        load_settings()
