"""Quiet by default (issue #18 item 6): what an operator needs at INFO, the rest behind debug.

The settings module is imported fresh in a subprocess with the environment an operator sets,
and ``django.setup()`` applies its ``LOGGING`` as in production.
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

SCRIPT = """
import json, logging, django
django.setup()
levels = {}
for name in ("django-q", "axes.handlers.database", "generations.services.lifecycle", "django"):
    logger = logging.getLogger(name)
    levels[name] = [logger.isEnabledFor(level) for level in (logging.DEBUG, logging.INFO,
                                                              logging.WARNING)]
print(json.dumps(levels))
"""


def enabled_levels(log_level: str | None) -> dict[str, list[bool]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "seedance_site.settings",
        "ENV_FILE": "",
        "SECRET_KEY": "logging-test-key-" + "k7Qz9" * 10,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "studio.example.com",
    }
    env.pop("LOG_LEVEL", None)
    if log_level:
        env["LOG_LEVEL"] = log_level
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=settings.BASE_DIR,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_by_default_jobs_show_and_worker_and_login_chatter_does_not():
    levels = enabled_levels(None)

    # [debug, info, warning]
    assert levels["generations.services.lifecycle"] == [False, True, True]
    assert levels["django-q"] == [False, False, True]  # an idle worker's per-task lines
    assert levels["axes.handlers.database"] == [False, False, True]  # four lines per login
    assert levels["django"] == [False, True, True]


@pytest.mark.parametrize("log_level", ["debug", "DEBUG"])
def test_log_level_debug_shows_everything(log_level):
    levels = enabled_levels(log_level)

    for name in ("django-q", "axes.handlers.database", "generations.services.lifecycle"):
        assert levels[name] == [True, True, True], (name, levels)
