"""One simulated provider: its live config, task store, counters, dice, engine and controls.

:class:`Provider` holds what both providers have in common and serves, under the provider's
``prefix`` (``""`` for APIXO, ``"/aivideoapi"`` for aivideoapi.ai):

- ``<prefix><api_prefix>...``: the provider's API, implemented by the subclass (:meth:`api`);
- ``GET|HEAD <prefix>/files/<taskId>.mp4``: result videos, with single-range support;
- ``GET|POST <prefix>/_sim/config``, ``POST <prefix>/_sim/reset``, ``GET <prefix>/_sim/tasks``,
  ``GET <prefix>/_sim/stats``: test and benchmark controls, without authentication, answered
  in the APIXO envelope ``{"code", "message", "data"}`` for both providers.

Each provider has its own knobs, so a fault injected into one never touches the other.
"""

from __future__ import annotations

import logging
import re
import time
from decimal import Decimal
from typing import ClassVar

from . import video
from .config import BaseConfig, ConfigError
from .lifecycle import Engine
from .store import Dice, RequestLog, TaskStore
from .validation import RequestError, decode_body
from .web import (
    BodyError,
    DropConnection,
    Response,
    envelope,
    file_response,
    invalid,
    maintenance_page,
    own_base_url,
    read_body,
)

logger = logging.getLogger(__name__)


def timing_seed(seed: int | None) -> str | None:
    """Return the seed of the generation-time draws for the config's ``seed`` (None: random)."""
    return None if seed is None else f"{seed}/timing"


class Provider:
    """Base of :class:`~.apixo.ApixoProvider` and :class:`~.aivideoapi.AivideoapiProvider`.

    Subclasses set the class attributes, implement :meth:`api`, :meth:`error`,
    :meth:`endpoint` and the :class:`~.dialect.Dialect` methods.
    """

    prefix: ClassVar[str]  # where the provider's URLs start ("" or "/aivideoapi")
    api_prefix: ClassVar[str]  # the API's path under ``prefix``, e.g. "/api/v1/"
    balance_knob: ClassVar[str]  # the knob holding the starting balance
    task_id_pattern: ClassVar[str]  # regular expression of the provider's task ids
    fps: int = video.FPS

    def __init__(self, config: BaseConfig, videos: video.VideoCache) -> None:
        self.initial_config = config
        self.config = config
        self.store = TaskStore(self._opening_balance(config), self)  # type: ignore[arg-type]
        self.requests = RequestLog()
        self.dice = Dice(config.seed)
        # Generation times have their own random source, so that drawing them does not shift
        # the fault sequence a seed gives.
        self.timing_dice = Dice(timing_seed(config.seed))
        self.engine = Engine(
            self.store,
            lambda: self.config,
            self,  # type: ignore[arg-type]
            videos,
            timing_dice=self.timing_dice,
        )
        self._file_path = re.compile(
            re.escape(self.prefix) + rf"/files/({self.task_id_pattern})\.mp4"
        )

    def handle(self, environ: dict, path: str) -> Response:
        """Answer a request for a path under :attr:`prefix`; unknown paths are a 404."""
        api_root = self.prefix + self.api_prefix
        try:
            if path.startswith(api_root):
                response = self.api(environ, path[len(api_root) :])
                self.requests.record(self.endpoint(path[len(api_root) :]), str(response.status))
            elif path.startswith(self.prefix + "/files/"):
                response = self._file(environ, path)
                self.requests.record("files", str(response.status))
            elif path.startswith(self.prefix + "/_sim/"):
                response = self._control(environ, path.removeprefix(self.prefix))
            else:
                response = self.error(404)
        except DropConnection:
            self.requests.record(self.endpoint(path[len(api_root) :]), "dropped")
            raise
        except Exception:
            logger.exception("Simulator failed on %s", path)
            response = self.error(500)
        return response

    def close(self) -> None:
        """Stop background work."""
        self.engine.stop()

    # --- to implement ----------------------------------------------------------------------

    def api(self, environ: dict, route: str) -> Response:
        """Answer an API request; ``route`` is the path after the API prefix."""
        raise NotImplementedError

    def endpoint(self, route: str) -> str:
        """Name the endpoint of an API route, for the request counters."""
        raise NotImplementedError

    def error(self, status: int) -> Response:
        """Return the provider's generic error answer for ``status`` (404, 405 or 500)."""
        raise NotImplementedError

    def authenticate(self, environ: dict) -> Response | None:
        """Return the refusal of a request without the right key (or other access), or None."""
        raise NotImplementedError

    def rate_limited(self) -> Response:
        """Return the provider's 429 for too many requests."""
        raise NotImplementedError

    def server_error(self) -> Response:
        """Return one of the provider's retryable 5xx answers, chosen with :attr:`dice`."""
        raise NotImplementedError

    # --- helpers for subclasses ------------------------------------------------------------

    def refusal(self, environ: dict) -> Response | None:
        """Apply what every API request goes through first; return its refusal, or None.

        In order: ``latency_ms``; the key (:meth:`authenticate`); the per-minute window
        (``requests_per_minute``, docs/providers/apixo.md "Rate limits" /
        docs/providers/aivideoapi.md "Error Reference" 429 ``rate_limit_exceeded``); the injected
        ``rate_429``, ``rate_5xx``, ``rate_gateway`` and ``rate_unreadable`` faults.
        """
        config = self.config
        self.requests.arrive(time.time())
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        refused = self.authenticate(environ)
        if refused is not None:
            return refused
        if not self.requests.admit(time.time(), config.requests_per_minute):
            return self.rate_limited()
        if self.dice.chance(config.rate_429):
            return self.rate_limited()
        if self.dice.chance(config.rate_5xx):
            return self.server_error()
        if self.dice.chance(config.rate_gateway):
            return self.gateway_error()
        if self.dice.chance(config.rate_unreadable):
            return maintenance_page(redirect=self.dice.chance(0.5))
        return None

    def base_url(self, environ: dict) -> str:
        """Return the root result URLs start with (``public_base_url`` or the request's)."""
        root = self.config.public_base_url.rstrip("/") or own_base_url(environ)
        return root + self.prefix

    # --- /files ----------------------------------------------------------------------------

    def _file(self, environ: dict, path: str) -> Response:
        """Serve a successful task's video, honouring a single ``Range`` (RFC 9110 14.2)."""
        match = self._file_path.fullmatch(path)
        task = self.store.get(match.group(1)) if match else None
        if task is None or task.final_state != "success" or task.result_path is None:
            return self.error(404)
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return self.error(405)
        return file_response(environ, task.result_path)

    # --- /_sim -----------------------------------------------------------------------------

    def _control(self, environ: dict, path: str) -> Response:
        """Serve the test controls (not part of the provider; no authentication)."""
        method, now = environ["REQUEST_METHOD"], time.time()
        if path == "/_sim/config" and method == "GET":
            return envelope(200, "success", self.config.as_dict())
        if path == "/_sim/config" and method == "POST":
            return self._update_config(environ)
        if path == "/_sim/reset" and method == "POST":
            self.config = self.initial_config
            self.store.clear(self._opening_balance(self.config))
            self.requests.clear()
            self.dice.reseed(self.config.seed)
            self.timing_dice.reseed(timing_seed(self.config.seed))
            return envelope(200, "success", self.config.as_dict())
        if path == "/_sim/tasks" and method == "GET":
            return envelope(200, "success", self.store.describe(now))
        if path == "/_sim/stats" and method == "GET":
            return envelope(200, "success", self.requests.snapshot() | self.store.counts(now))
        return envelope(404, "Not found")

    def _update_config(self, environ: dict) -> Response:
        """Merge a JSON object into the live config; apply balance and seed at once."""
        try:
            changes = decode_body(read_body(environ))
            self.config = self.config.merged(changes)
        except (RequestError, BodyError, ConfigError) as exc:
            return invalid(getattr(exc, "detail", str(exc)))
        if self.balance_knob in changes:
            self.store.set_balance(self._opening_balance(self.config))
        if "seed" in changes:
            self.dice.reseed(self.config.seed)
            self.timing_dice.reseed(timing_seed(self.config.seed))
        return envelope(200, "success", self.config.as_dict())

    def _opening_balance(self, config: BaseConfig) -> Decimal:
        return Decimal(str(getattr(config, self.balance_knob)))
