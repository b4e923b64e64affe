"""Helpers for tests that start the portal's own processes with production-like settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the test settings put in the environment, and what a developer's shell may carry: a
# process started here sees only what the test gives it.
_STRIPPED = (
    "DJANGO_",
    "APIXO_",
    "AIVIDEOAPI_",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "ENV_FILE",
    "EMAIL_URL",
    "SIMULATOR_IN_PRODUCTION",
)


def clean_env(**values: str) -> dict[str, str]:
    """Return the current environment without the portal's basics, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED)}
    env.update(values)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``manage.py args`` in the repository with exactly ``env``; capture its output."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def no_dotenv(tmp_path) -> str:
    """Path of an empty .env, so no developer's file changes what a subprocess sees."""
    path = tmp_path / "empty.env"
    path.write_text("")
    return str(path)
