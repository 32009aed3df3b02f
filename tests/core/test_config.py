"""Settings precedence (arguments > environment > file > defaults) and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose_factory_addon.core import defaults
from pose_factory_addon.core.config import load_settings, secret, user_config_dir
from pose_factory_addon.core.errors import ConfigError


def test_defaults_are_the_seed_values(tmp_path: Path) -> None:
    settings = load_settings(environ={"XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)})
    assert settings.poll_interval == 30.0
    assert settings.wait_timeout == 3600.0
    assert (settings.max_cost_per_job, settings.warning_threshold, settings.max_batch_size) == (100.0, 50.0, 1000)
    assert settings.workspace_root == "/workspace"
    assert settings.store == (tmp_path / "pose-factory" / "store").as_uri()
    assert settings.sources["poll_interval"] == "default"
    assert defaults.RESOLUTION == (512, 512) and defaults.ANGLES == 8 and defaults.PADDING_FACTOR == 1.2
    assert defaults.CAMERA_FOV_DEG == 50.0 and defaults.SEED_CAMERA_DISTANCE_M == 3.5 and defaults.SEED_CAMERA_HEIGHT_M == 1.6
    assert defaults.SEED_EEVEE_TAA_SAMPLES == 64 and defaults.SEED_SUN_ENERGY == 3.0


def test_precedence_arguments_over_environment_over_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("poll_interval: 5\nmax_attempts: 7\nstore: s3://file-bucket/jobs\n")
    env = {"POSE_FACTORY_CONFIG": str(config), "POSE_FACTORY_POLL_INTERVAL": "9", "XDG_DATA_HOME": str(tmp_path)}
    settings = load_settings(arguments={"poll_interval": 2.5, "max_attempts": None}, environ=env)
    assert settings.poll_interval == 2.5 and settings.sources["poll_interval"] == "arguments"
    assert settings.max_attempts == 7 and settings.sources["max_attempts"].startswith("config file")
    assert settings.store == "s3://file-bucket/jobs"
    settings = load_settings(environ=env)
    assert settings.poll_interval == 9.0 and settings.sources["poll_interval"] == "$POSE_FACTORY_POLL_INTERVAL"


def test_explicit_config_beats_env_config_and_user_dir(tmp_path: Path) -> None:
    user_dir = user_config_dir({"XDG_CONFIG_HOME": str(tmp_path)})
    user_dir.mkdir(parents=True)
    (user_dir / "config.yaml").write_text("max_attempts: 2\n")
    env_file = tmp_path / "env.yaml"
    env_file.write_text("max_attempts: 4\n")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("max_attempts: 6\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert load_settings(environ=env).max_attempts == 2
    assert load_settings(environ={**env, "POSE_FACTORY_CONFIG": str(env_file)}).max_attempts == 4
    assert load_settings(environ={**env, "POSE_FACTORY_CONFIG": str(env_file)}, config_path=explicit).max_attempts == 6


def test_error_names_key_value_and_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"POSE_FACTORY_POLL_INTERVAL": "-3", "XDG_CONFIG_HOME": str(tmp_path)})
    message = str(caught.value)
    assert "poll_interval" in message and "'-3'" in message and "$POSE_FACTORY_POLL_INTERVAL" in message

    config = tmp_path / "bad.yaml"
    config.write_text("max_batch_size: lots\n")
    with pytest.raises(ConfigError, match=r"max_batch_size='lots' from config file .*bad\.yaml"):
        load_settings(config_path=config, environ={})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("colour: blue\n", "unknown setting"),
        ("RUNPOD_API_KEY: abc\n", "secrets belong in the environment"),
        ("- a\n- b\n", "must be a mapping"),
        ("store: [unclosed\n", "not valid YAML"),
        ("store: ftp://x\n", "must be file:///path"),
        ("warning_threshold: 500\n", "must not exceed max_cost_per_job"),
    ],
)
def test_config_file_rejections(tmp_path: Path, text: str, match: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_settings(config_path=config, environ={})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_path=tmp_path / "nope.yaml", environ={})


def test_secrets_only_from_environment() -> None:
    assert secret("RUNPOD_API_KEY", {"RUNPOD_API_KEY": " k "}) == "k"
    assert secret("RUNPOD_API_KEY", {}) is None
    with pytest.raises(KeyError):
        secret("HOME", {})
