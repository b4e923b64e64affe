"""The simulator as one WSGI application: two providers' HTTP contracts plus their controls.

URL layout (one server, one port):

APIXO (:mod:`.apixo`, knobs :class:`~.config.SimulatorConfig`), base URL ``/api/v1``:

- ``POST /api/v1/generateTask/<model>``, ``GET /api/v1/statusTask/<model>?taskId=``,
  ``GET /api/v1/apikeys/current-balance``;
- ``GET|HEAD /files/<taskId>.mp4``: result videos, with single-range support;
- ``GET|POST /_sim/config``, ``POST /_sim/reset``, ``GET /_sim/tasks``, ``GET /_sim/stats``.

aivideoapi.ai (:mod:`.aivideoapi`, knobs :class:`~.config.AivideoapiConfig`), base URL
``/aivideoapi/v1``:

- ``POST /aivideoapi/v1/videos/generations``, ``GET /aivideoapi/v1/tasks/<taskId>``,
  ``GET /aivideoapi/v1/credits``;
- ``GET|HEAD /aivideoapi/files/<taskId>.mp4``;
- ``GET|POST /aivideoapi/_sim/config``, ``POST /aivideoapi/_sim/reset``,
  ``GET /aivideoapi/_sim/tasks``, ``GET /aivideoapi/_sim/stats``.

Shared: ``GET /samples/<name>``: sample input images and a clip (``samples.py``; neither
provider's). The ``/_sim`` controls take no authentication and touch only their own provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus

from . import samples, video
from .aivideoapi import AivideoapiProvider
from .apixo import ApixoProvider
from .config import AivideoapiConfig, SimulatorConfig, aivideoapi_defaults
from .web import Response, StartResponse, envelope

AIVIDEOAPI_PREFIX = AivideoapiProvider.prefix


class SimulatorApp:
    """WSGI callable routing to the APIXO and aivideoapi.ai providers.

    ``aivideoapi_config`` defaults to :func:`~.config.aivideoapi_defaults` of ``config`` (the
    aivideoapi.ai defaults with the APIXO config's environment knobs).
    """

    def __init__(
        self, config: SimulatorConfig, aivideoapi_config: AivideoapiConfig | None = None
    ) -> None:
        if not isinstance(config, SimulatorConfig):
            raise TypeError("config must be a SimulatorConfig (the APIXO knobs)")
        if aivideoapi_config is None:
            aivideoapi_config = aivideoapi_defaults(config)
        if not isinstance(aivideoapi_config, AivideoapiConfig):
            raise TypeError("aivideoapi_config must be an AivideoapiConfig")
        self._videos = video.VideoCache()
        self.apixo = ApixoProvider(config, self._videos)
        self.aivideoapi = AivideoapiProvider(aivideoapi_config, self._videos)

    @property
    def config(self) -> SimulatorConfig:
        """Return the live APIXO config."""
        return self.apixo.config

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request; raise DropConnection when a dropped answer is injected."""
        path = environ.get("PATH_INFO", "")
        if path == AIVIDEOAPI_PREFIX or path.startswith(AIVIDEOAPI_PREFIX + "/"):
            response = self.aivideoapi.handle(environ, path)
        elif path.startswith("/samples/"):
            response = self._sample(path)
        else:
            response = self.apixo.handle(environ, path)
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", response.headers)
        return response.body

    def close(self) -> None:
        """Stop background work."""
        self.apixo.close()
        self.aivideoapi.close()

    def _sample(self, path: str) -> Response:
        """Serve a sample input (``samples.py``), or 404."""
        media = self.apixo.config.media_path / "samples"
        found = samples.sample(path.removeprefix("/samples/"), media)
        if found is None:
            return envelope(404, "File not found")
        content, content_type = found
        headers = [("Content-Type", content_type), ("Content-Length", str(len(content)))]
        return Response(200, [content], headers)
