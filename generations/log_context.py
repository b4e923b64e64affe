"""What a log line is about: the request, the user and the generation, wherever they are known.

Issue #13 item 9: with ``LOG_FORMAT=json`` every line is one JSON object carrying
``request_id``, ``user_id`` and ``generation_id`` where known. The values live in context
variables, so they follow the request (or the task) through every function it calls without
being passed around:

- ``generations.middleware.RequestIdMiddleware`` binds the request id and the request, whose
  user id is read once authentication has loaded the user (never forcing a session query);
- django-q2's ``pre_execute`` signal binds the task id and, for a task whose first parameter is
  ``generation_id`` (``generations.tasks``), that generation (connected in ``signals.py``);
- :func:`bind` sets any of them for a block (e.g. a loop over generations).

:class:`ContextFilter` copies them onto every log record, so formatters can name them.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.utils.functional import empty

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[int | None] = ContextVar("user_id", default=None)
generation_id_var: ContextVar[int | None] = ContextVar("generation_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)
request_var: ContextVar[Any] = ContextVar("request", default=None)

_VARS = {
    "request_id": request_id_var,
    "user_id": user_id_var,
    "generation_id": generation_id_var,
    "task_id": task_id_var,
}


class ContextFilter(logging.Filter):
    """Add ``request_id``, ``user_id``, ``generation_id`` and ``task_id`` to every record.

    Values already on the record (given with ``extra=``) win; unknown ones are None, which the
    JSON formatter writes as ``null`` and the text formatter as ``-``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        # Django logs 4xx/5xx responses (django.request) after the middleware has returned,
        # with the request on the record: its id is read from there.
        request = getattr(record, "request", None) or request_var.get()
        if record.request_id is None:
            record.request_id = getattr(request, "request_id", None)
        if record.user_id is None:
            record.user_id = _loaded_user_id(request)
        return True


def _loaded_user_id(request: Any) -> int | None:
    """The request's user id if authentication has already loaded the user, else None."""
    user = getattr(request, "__dict__", {}).get("user")  # set by AuthenticationMiddleware
    if user is None or getattr(user, "_wrapped", None) is empty:  # lazy and not loaded yet
        return None
    return user.pk if user.is_authenticated else None


class TextFormatter(logging.Formatter):
    """The plain format, with the request id (or ``-``) after the logger name."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


@contextlib.contextmanager
def bind(**values: object) -> Iterator[None]:
    """Set some of ``request_id``, ``user_id``, ``generation_id``, ``task_id`` for a block.

    Raises:
        KeyError: for a name that is not one of those four.
    """
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def task_started(sender: object, func: object, task: dict, **kwargs: object) -> None:
    """django-q2 ``pre_execute``: bind the task id and its generation id, if it has one.

    A task function of this project whose first parameter is named ``generation_id`` gets its
    first positional argument bound (``submit_generation``, ``store_result``, ...); nothing is
    imported or called for other tasks. The worker runs one task at a time per process, so the
    values are cleared by :func:`task_finished`.
    """
    task_id_var.set(task.get("id"))
    generation_id_var.set(None)
    if getattr(func, "__module__", "") != "generations.tasks":
        return
    args = task.get("args") or ()
    try:
        first = next(iter(inspect.signature(func).parameters), None)
    except (TypeError, ValueError):
        return
    if first == "generation_id" and args and isinstance(args[0], int):
        generation_id_var.set(args[0])
    elif first == "generation_id" and isinstance(task.get("kwargs", {}).get(first), int):
        generation_id_var.set(task["kwargs"][first])


def task_finished(sender: object, func: object = None, task: dict | None = None, **kw) -> None:
    """django-q2 ``post_execute_in_worker``: forget the task's ids."""
    task_id_var.set(None)
    generation_id_var.set(None)
