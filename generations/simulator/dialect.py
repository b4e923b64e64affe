"""What the shared machinery (store, engine, callbacks) needs to know about one provider.

The task store, the :class:`~.lifecycle.Engine` and the :class:`~.callbacks.CallbackDispatcher`
are the same for APIXO and aivideoapi.ai; everything that differs on the wire (the status
object, the names of states, failure codes, callback headers and retries) sits behind a
:class:`Dialect`, implemented by each provider class (``apixo.py``, ``aivideoapi.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .store import Failure, Task


class Spec(Protocol):
    """A validated submit request, reduced to what the shared machinery acts on."""

    @property
    def model(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def resolution(self) -> str: ...
    @property
    def duration(self) -> int: ...
    @property
    def sound(self) -> bool: ...
    @property
    def aspect_ratio(self) -> str: ...
    @property
    def image_urls(self) -> tuple[str, ...]: ...
    @property
    def video_urls(self) -> tuple[str, ...]: ...
    @property
    def callback_url(self) -> str | None:
        """The URL to call when the task is final, or None for a task without callback."""


class Dialect(Protocol):
    """A provider's wire format and policies, as the shared machinery uses them."""

    fps: int  # frame rate of rendered results
    retry_delays_s: tuple[float, ...]  # waits before each callback retry (unscaled)

    def status_data(self, task: Task, now: float) -> dict:
        """Return the task as the status endpoint shows it (called under the store lock)."""

    def state_label(self, state: str) -> str:
        """Return the provider's name of an internal state (pending, processing, success,
        failed)."""

    def delivered(self, status: int | None) -> bool:
        """Tell whether a callback answered with ``status`` counts as delivered."""

    def input_failure(self, failure: Failure) -> Failure:
        """Return the task failure for an unusable input (``inputs.InputError``)."""

    def render_failure(self) -> Failure:
        """Return the task failure for an unexpected error while rendering the result."""

    def callback_request(self, task: Task, data: dict) -> tuple[dict[str, str], object]:
        """Return the extra headers and the JSON payload of a callback carrying ``data``."""

    def claimed_state(self, data: dict) -> str:
        """Return the state a status object (or callback body) claims, in provider words."""

    def opposite_outcome(self, task: Task, data: dict) -> dict:
        """Return status data claiming the other final outcome (``callback_mismatch``)."""
