"""Request id, user id and generation id on log lines (issue #13 item 9)."""

import logging
import re

from django.urls import reverse
from django_q.signals import post_execute_in_worker, pre_execute

from generations import tasks
from generations.log_context import ContextFilter, bind, request_var


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, "message", None, None)
    for name, value in extra.items():
        setattr(record, name, value)
    ContextFilter().filter(record)
    return record


def test_a_well_formed_request_id_from_the_proxy_is_kept(client):
    response = client.get(reverse("login"), HTTP_X_REQUEST_ID="nginx-5f2b9c7e01")
    assert response["X-Request-ID"] == "nginx-5f2b9c7e01"


def test_a_malformed_request_id_is_replaced(client):
    for given in ("short", "has space and <tags>", "x" * 200):
        response = client.get(reverse("login"), HTTP_X_REQUEST_ID=given)
        assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"]), given
    assert client.get(reverse("login"))["X-Request-ID"] != response["X-Request-ID"]


def test_log_lines_in_a_request_carry_its_id_and_the_loaded_user(member_client, member):
    seen = []

    class Capture(logging.Handler):
        def emit(self, record):
            seen.append((record.request_id, record.user_id))

    handler = Capture()
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = member_client.get("/g/999999/", HTTP_X_REQUEST_ID="req-abcdef-42")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 404  # logged by django.request as "Not Found"
    assert ("req-abcdef-42", member.pk) in seen


def test_the_user_is_never_loaded_just_to_log(rf):
    """No database access is allowed here: loading the session's user would raise."""
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    request = rf.get("/", HTTP_COOKIE="sessionid=" + "a" * 32)
    SessionMiddleware(lambda r: None).process_request(request)
    AuthenticationMiddleware(lambda r: None).process_request(request)
    token = request_var.set(request)
    try:
        assert _record().user_id is None
    finally:
        request_var.reset(token)


def test_bind_sets_values_for_a_block():
    with bind(generation_id=7, request_id="abc12345"):
        inner = _record()
    outer = _record()
    assert (inner.generation_id, inner.request_id) == (7, "abc12345")
    assert (outer.generation_id, outer.request_id) == (None, None)
    assert _record(generation_id=9).generation_id == 9  # extra= wins


def test_a_task_about_one_generation_binds_its_id():
    task = {"id": "task-1", "args": (42,), "kwargs": {}}
    pre_execute.send(sender="django_q", func=tasks.store_result, task=task)
    during = _record()
    post_execute_in_worker.send(sender="django_q", func=tasks.store_result, task=task)
    after = _record()

    assert (during.generation_id, during.task_id) == (42, "task-1")
    assert (after.generation_id, after.task_id) == (None, None)


def test_a_batch_task_binds_no_single_generation():
    task = {"id": "task-2", "args": ([1, 2, 3],), "kwargs": {}}
    pre_execute.send(sender="django_q", func=tasks.poll_generations, task=task)
    try:
        record = _record()
    finally:
        post_execute_in_worker.send(sender="django_q", func=tasks.poll_generations, task=task)
    assert (record.generation_id, record.task_id) == (None, "task-2")
