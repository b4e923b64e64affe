"""gunicorn's configuration for the portal's web nodes (issue #13 item 2).

gunicorn reads this file when started from the repository root::

    gunicorn seedance_site.wsgi

Environment (all optional):

- ``WEB_BIND``: address to listen on, default ``127.0.0.1:8000`` (nginx in front; see
  docs/deploy.md). ``PORT`` alone gives ``0.0.0.0:$PORT``.
- ``WEB_CONCURRENCY``: worker processes, default the number of cores (at least 2).
- ``WEB_THREADS``: threads per process, default 4. Each thread keeps at most one PostgreSQL
  connection, so a node holds up to ``WEB_CONCURRENCY x WEB_THREADS`` (the README's sizing rule).
- ``WEB_TIMEOUT``: seconds a worker may go silent before it is restarted, default 60.
- ``WEB_GRACEFUL_TIMEOUT``: seconds a worker that is being replaced (recycled after
  ``max_requests``, ``systemctl reload``, ``systemctl stop``) lets its running requests finish
  before it is killed, default 300: long enough for a streamed ZIP or video download
  (docs/deploy.md "Web workers: recycling and downloads"). ``TimeoutStopSec`` of
  ``seedance-web.service`` must stay above it.
- ``WEB_MAX_REQUESTS``: requests a worker process serves before it is recycled, default
  10000 (plus up to 10 % jitter, so the processes do not recycle together).
- ``LOG_FORMAT``: ``text`` (default, combined log format plus ``rid=`` request id) or ``json``
  (one JSON object per access line, like the portal's own log lines).

Why these timeouts: the slowest request the portal serves is an upload of up to 200 MB (a
source clip; ``generations.uploads.VIDEO_MAX_BYTES``) that nginx has buffered whole before it
reaches gunicorn, then probed by PyAV in a few seconds; the webhook's status read has a budget
of a few seconds. 60 s covers both with room and still frees a stuck worker within a minute.
Keep-alive stays short (5 s): nginx reuses its upstream connections; idle browsers never
reach gunicorn directly.
"""

import gc
import logging
import os

from gunicorn.glogging import Logger


def _positive_int(name: str, default: int) -> int:
    """Return the environment variable ``name`` as an integer >= 1, refusing anything else."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a whole number >= 1; got {raw!r}.")
    return int(raw)


_port = os.environ.get("PORT", "").strip()
bind = [
    os.environ.get("WEB_BIND", "").strip() or (f"0.0.0.0:{_port}" if _port else "127.0.0.1:8000")
]
workers = _positive_int("WEB_CONCURRENCY", max(2, os.cpu_count() or 1))
threads = _positive_int("WEB_THREADS", 4)
worker_class = "gthread"
timeout = _positive_int("WEB_TIMEOUT", 60)
# A recycled worker stops accepting and lets its running requests finish for this long. Not
# the 30 s of gunicorn's default: a ZIP or video streamed by Django (no X-Accel) to a slow
# client takes minutes, and was cut mid-file whenever its worker recycled (docs/deploy.md
# "Web workers: recycling and downloads").
graceful_timeout = _positive_int("WEB_GRACEFUL_TIMEOUT", 300)
keepalive = 5
# Recycle workers now and then, staggered, so a slow leak never takes a node down. Live pages
# poll /updates/ about 80 times a minute per tab, so a low figure recycles every few minutes.
max_requests = _positive_int("WEB_MAX_REQUESTS", 10_000)
max_requests_jitter = max_requests // 10
# Static files are served by whitenoise from memory-mapped files; no need to preload the app.
preload_app = False

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The combined log format plus the duration and the request id the portal set on the response
# (generations.middleware.RequestIdMiddleware).
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)ss rid=%({x-request-id}o)s'
)


class RedactingLogger(Logger):
    """gunicorn's logger with the secrets of callback, input and invitation paths redacted.

    The request line, path and referer of each access line pass through
    ``generations.log_redaction.redact`` (docs/architecture.md "Secrets in addresses").
    """

    def _redacted(self, msg, args):
        from generations.log_redaction import redact

        return redact(str(msg)), tuple(redact(a) if isinstance(a, str) else a for a in args)

    # gunicorn's error log names the request too ("Error handling request /inputs/<token>/").
    def error(self, msg, *args, **kwargs) -> None:
        msg, args = self._redacted(msg, args)
        super().error(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs) -> None:
        msg, args = self._redacted(msg, args)
        super().exception(msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs) -> None:
        msg, args = self._redacted(msg, args)
        super().warning(msg, *args, **kwargs)

    def atoms(self, resp, req, environ, request_time) -> dict:
        from generations.log_redaction import redact

        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f", "{referer}i"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


class JsonLogger(RedactingLogger):
    """gunicorn's logger writing one JSON object per line (``LOG_FORMAT=json``)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        from pythonjsonlogger.json import JsonFormatter

        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time) -> None:
        """Log one request as fields rather than as a formatted line."""
        if not self.cfg.accesslog:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "request_id": atoms.get("{x-request-id}o"),
            "remote_addr": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"],
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": atoms["M"],
            "referer": atoms["f"],
            "user_agent": atoms["a"],
        }
        try:
            self.access_log.info("%s %s %s", atoms["m"], atoms["U"], atoms["s"], extra=fields)
        except Exception:
            logging.getLogger(__name__).exception("access log line failed")


def post_worker_init(worker) -> None:
    """Freeze what loading the app made (modules, models, settings: about 100,000 objects)
    out of the garbage collector's sight, once per worker. A full collection then walks only
    what requests allocate, instead of pausing a request for tens of milliseconds to walk
    the whole app (benchmarks/reports.py found those pauses as p95 outliers)."""
    gc.collect()
    gc.freeze()


logger_class = RedactingLogger
if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json":
    logger_class = JsonLogger
