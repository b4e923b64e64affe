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
        # Required with DEBUG off; the console is what this test means.
        "EMAIL_URL": "consolemail://",
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


class TestRedaction:
    """Secrets in callback, input and invitation paths (docs/architecture.md "Secrets in
    addresses") are redacted in the portal's log lines and gunicorn's access lines."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "POST /webhooks/generations/42/Zx9-secret_token/ HTTP/1.1",
                "POST /webhooks/generations/42/[redacted]/ HTTP/1.1",
            ),
            ("/inputs/abc.DEF-123/", "/inputs/[redacted]/"),
            (
                "https://s.example/accounts/invite/0a1b2c",
                "https://s.example/accounts/invite/[redacted]",
            ),
            ("/accounts/reset/MQ/c3x7-abcdef/", "/accounts/reset/MQ/[redacted]/"),
            ("/accounts/reset/MQ/set-password/", "/accounts/reset/MQ/set-password/"),
            ("/generations/42/", "/generations/42/"),
            (
                "GET /inputs/t1/ then /inputs/t2/",
                "GET /inputs/[redacted]/ then /inputs/[redacted]/",
            ),
        ],
    )
    def test_redact(self, text, expected):
        from generations.log_redaction import redact

        assert redact(text) == expected

    def test_djangos_not_found_line_is_redacted(self, caplog):
        import logging

        from django.test import RequestFactory

        from generations.log_redaction import RedactingFilter

        logger = logging.getLogger("django.request")
        handler_filter = RedactingFilter()
        record = logger.makeRecord(
            "django.request",
            logging.WARNING,
            __file__,
            1,
            "Not Found: %s",
            ("/inputs/leaky-token/",),
            None,
        )
        record.request = RequestFactory().get("/inputs/leaky-token/")
        assert handler_filter.filter(record)
        assert record.getMessage() == "Not Found: /inputs/[redacted]/"
        assert record.request == "<WSGIRequest: GET '/inputs/[redacted]/'>"

    def test_the_console_handler_of_the_settings_redacts(self):
        assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]

    def test_gunicorn_text_access_lines_are_redacted(self):
        import datetime
        import runpy
        from pathlib import Path
        from types import SimpleNamespace

        from gunicorn.config import Config

        conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
        cfg = Config()
        cfg.set("accesslog", None)
        logger = conf["logger_class"](cfg)
        environ = {
            "REQUEST_METHOD": "POST",
            "RAW_URI": "/webhooks/generations/7/tok-secret/",
            "PATH_INFO": "/webhooks/generations/7/tok-secret/",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_REFERER": "https://s.example/accounts/invite/inv-secret/",
        }
        response = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "r1")], sent=2)
        request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
        atoms = logger.atoms(response, request, environ, datetime.timedelta(seconds=1))
        line = conf["access_log_format"] % atoms
        assert "tok-secret" not in line and "inv-secret" not in line
        assert '"POST /webhooks/generations/7/[redacted]/ HTTP/1.1"' in line

    def test_gunicorn_error_lines_are_redacted(self, caplog):
        import runpy
        from pathlib import Path

        from gunicorn.config import Config

        conf = runpy.run_path(str(Path(settings.BASE_DIR) / "gunicorn.conf.py"))
        logger = conf["logger_class"](Config())
        logger.error_log.propagate = True
        with caplog.at_level("ERROR", logger="gunicorn.error"):
            logger.error("Error handling request %s", "/inputs/leaky-token/")
        assert caplog.records[-1].getMessage() == "Error handling request /inputs/[redacted]/"
