"""The faked world of the lifecycle machine (``test_lifecycle_machine.py``): both providers behind
``responses``, the downloader, and the killed worker.

APIXO answers as docs/providers/apixo.md says (helpers in ``tests/fake_apixo.py``), aivideoapi.ai
as docs/providers/aivideoapi.md says (``tests/fake_aivideoapi.py``). One fault name means the same
thing at both, in each provider's own words: ``503`` is APIXO's 503 envelope or aivideoapi.ai's
503 ``upstream_error``, ``spend_limit`` aivideoapi.ai's 429 ``spend_limit_exceeded`` (APIXO has
no spend limit: it answers 402), ``wrong_shape`` the other provider's answer shape.
"""

import json
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from django.utils import timezone

from generations.providers import DownloadError, DownloadReason, DownloadRefused, DownloadResult
from generations.services.callbacks import generation_callback_receive
from tests import fake_aivideoapi as aiv
from tests.fake_apixo import BASE, STATUS_URL, SUBMIT_URL, envelope, task_data

PROVIDERS = ("apixo", "aivideoapi")
FINAL_OF_TASK = {"success": "succeeded", "failed": "failed"}
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100
BALANCE_URL = f"{BASE}/apikeys/current-balance"
# Faults a provider answers with an error status (the rest are transport faults or shapes).
ERROR_FAULTS = ("400", "401", "402", "403", "429", "500", "503", "spend_limit")


class WorkerKilled(BaseException):
    """The worker process died (SIGKILL) in the middle of a call: nothing after it runs."""


@dataclass
class ProviderTask:
    """One task a faked provider accepted; it ends ``outcome`` at ``done_at``."""

    task_id: str
    job: int
    provider: str
    token: str  # the webhook token of the submit attempt that created it ("" when polling)
    outcome: str
    created_at: datetime
    done_at: datetime

    @property
    def state(self) -> str:
        now = timezone.now()
        if now >= self.done_at:
            return self.outcome
        return "processing" if now > self.created_at else "pending"


def _json(status: int, body, headers: dict | None = None):
    return status, headers or {}, json.dumps(body)


def error_answer(provider: str, fault: str):
    """Return the ``responses`` answer of an error ``fault`` in ``provider``'s words."""
    if provider == "aivideoapi":
        return _json(*aiv.error_answer(fault))
    status = 402 if fault == "spend_limit" else int(fault)
    return _json(status, envelope(None, code=status, message=f"HTTP {status}"))


@dataclass
class FakeProviders:
    """APIXO and aivideoapi.ai behind ``responses``: the tasks they made, tokens they were
    given, faults to inject.

    ``submit_fault``, ``status_fault`` and ``plan`` (how a task made by the next submit ends,
    and after how many seconds) apply, at whichever provider is asked, until the rule that set
    them ends; requests made by the dispatcher or by queued tasks get the defaults.
    """

    jobs_by_prompt: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, ProviderTask] = field(default_factory=dict)
    task_of_job: dict[int, ProviderTask] = field(default_factory=dict)
    tokens: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    maybe_received: set[int] = field(default_factory=set)
    resent: list[int] = field(default_factory=list)
    submit_requests: Counter = field(default_factory=Counter)  # by job
    submits_at: Counter = field(default_factory=Counter)  # by provider
    status_reads: int = 0
    submit_fault: str = "ok"
    status_fault: str = "ok"
    plan: tuple[str, int] = ("success", 40)
    during_status: object = None
    balance_fault: str = "ok"
    balance_reads: int = 0

    def register(self, api: responses.RequestsMock) -> None:
        api.add_callback(responses.POST, SUBMIT_URL, callback=self._submit_at("apixo"))
        api.add_callback(responses.GET, STATUS_URL, callback=self._status_at("apixo"))
        api.add_callback(responses.GET, BALANCE_URL, callback=self._balance_at("apixo"))
        api.add_callback(responses.POST, aiv.SUBMIT_URL, callback=self._submit_at("aivideoapi"))
        api.add_callback(responses.GET, aiv.TASK_URL, callback=self._status_at("aivideoapi"))
        api.add_callback(responses.GET, aiv.CREDITS_URL, callback=self._balance_at("aivideoapi"))

    def reset(self) -> None:
        """Forget everything (a new example)."""
        fresh = FakeProviders()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    @contextmanager
    def faults(self, *, submit: str = "ok", status: str = "ok", plan=("success", 40)):
        """Answer with these faults (and make tasks with this plan) inside the block."""
        self.submit_fault, self.status_fault, self.plan = submit, status, plan
        try:
            yield
        finally:
            self.submit_fault, self.status_fault, self.plan = "ok", "ok", ("success", 40)
            self.during_status = None

    def callback_jobs(self) -> list[int]:
        """Jobs the provider could call back: it holds their task and its webhook URL."""
        return sorted(job for job, task in self.task_of_job.items() if task.token)

    def running_jobs(self) -> list[int]:
        return sorted(
            job for job, task in self.task_of_job.items() if task.state not in FINAL_OF_TASK
        )

    def body(self, task: ProviderTask, state: str | None = None, task_id: str | None = None):
        """Return a webhook body claiming ``state``: APIXO's statusTask envelope, aivideoapi.ai's
        task object."""
        state, task_id = state or task.state, task_id or task.task_id
        if task.provider == "aivideoapi":
            return aiv.callback_body(task_id, state)
        return json.dumps(envelope(task_data(task_id, state))).encode()

    def headers(self, task: ProviderTask, state: str | None = None, task_id: str | None = None):
        """Return a webhook's headers (aivideoapi.ai's ``X-Event`` etc.; APIXO sends none)."""
        if task.provider != "aivideoapi":
            return None
        return aiv.callback_headers(task_id or task.task_id, state or task.state)

    def _create(self, job: int, provider: str, token: str) -> ProviderTask:
        outcome, seconds = self.plan
        now = timezone.now()
        number = len(self.tasks) + 1
        task_id = (
            f"{number:08x}-0000-4000-8000-{job:012x}"
            if provider == "aivideoapi"
            else f"task_{number}_{job}"
        )
        task = ProviderTask(
            task_id,
            job,
            provider,
            token,
            outcome,
            created_at=now,
            done_at=now + timedelta(seconds=seconds),
        )
        self.tasks[task.task_id] = self.task_of_job[job] = task
        return task

    def _submit_at(self, provider: str):
        return lambda request: self._submit(request, provider)

    def _status_at(self, provider: str):
        return lambda request: self._status(request, provider)

    def _balance_at(self, provider: str):
        return lambda request: self._balance(request, provider)

    def _submit(self, request, provider: str):
        body = json.loads(request.body)
        job = self.jobs_by_prompt[body["input"]["prompt"]]
        fault = self.submit_fault
        if fault == "no_connection":  # refused before anything was written
            raise requests.exceptions.ConnectTimeout("connect timed out")
        if job in self.maybe_received:
            self.resent.append(job)  # re-sent after a submit that may have created a task
        self.submit_requests[job] += 1
        self.submits_at[provider] += 1
        hook = body.get("callback_url", "")
        token = urlsplit(hook).path.rstrip("/").rsplit("/", 1)[-1] if hook else ""
        if token:
            self.tokens[job].append(token)
        if fault in ERROR_FAULTS:
            return error_answer(provider, fault)
        self.maybe_received.add(job)
        wrap = aiv.envelope if provider == "aivideoapi" else envelope
        if fault == "no_task_id":
            return _json(200, wrap({}))
        if fault == "killed_before_send":
            raise WorkerKilled
        task = self._create(job, provider, token)
        if fault == "dropped":
            raise requests.exceptions.ReadTimeout("read timed out")
        if fault == "killed_after_send":
            raise WorkerKilled
        if fault == "early_callback":
            task.done_at = task.created_at  # done at once, and
            if token:  # the webhook arrives before the submit answer
                assert generation_callback_receive(
                    generation_id=job,
                    token=token,
                    body=self.body(task),
                    headers=self.headers(task),
                )
        return _json(200, wrap({"taskId": task.task_id}))

    def _status(self, request, provider: str):
        self.status_reads += 1
        url = urlsplit(request.url)
        if provider == "aivideoapi":
            task_id = url.path.rsplit("/", 1)[-1]
        else:
            task_id = parse_qs(url.query)["taskId"][0]
        fault = self.status_fault
        if fault in ERROR_FAULTS:
            return error_answer(provider, fault)
        if fault == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out")
        # Unreadable answers (issue #12 item 1): a maintenance page with 200, a redirect, a
        # proxy's HTML 502, the other provider's shape. None says anything about the task.
        if fault == "html200":
            return 200, {"Content-Type": "text/html"}, "<html><h1>Maintenance</h1></html>"
        if fault == "302":
            return 302, {"Location": "https://status.example.com/"}, ""
        if fault == "502html":
            return 502, {"Content-Type": "text/html"}, "<html><h1>502 Bad Gateway</h1></html>"
        task = self.tasks.get(task_id)
        if task is None or task.provider != provider:
            if provider == "aivideoapi":
                return error_answer(provider, "404")
            return _json(404, envelope(None, code=404, message="Task not found"))
        if self.during_status is not None:
            hook, self.during_status = self.during_status, None
            hook()  # e.g. a webhook handled while this poll waits for its answer
        if provider == "aivideoapi":
            answer = aiv.task_object(task_id, task.state)
            return _json(200, aiv.envelope(answer) if fault == "wrong_shape" else answer)
        answer = task_data(task_id, task.state)
        return _json(200, answer if fault == "wrong_shape" else envelope(answer))

    def _balance(self, request, provider: str):
        """APIXO ``GET /apikeys/current-balance`` (docs/providers/apixo.md "Balance endpoint"),
        aivideoapi.ai ``GET /credits`` (docs/providers/aivideoapi.md "Credits balance")."""
        self.balance_reads += 1
        if self.balance_fault != "ok":
            return error_answer(provider, self.balance_fault)
        if provider == "aivideoapi":
            return _json(200, aiv.envelope({"balance": 9800, "total_purchased": 10000}))
        return _json(200, envelope(74.87))


class FakeDownloads:
    """The guarded downloader, replaced: ``fault`` decides what the next download does."""

    fault = "ok"

    def __call__(self, url, fileobj, **kwargs):
        if self.fault == "killed":
            raise WorkerKilled
        if self.fault == "retryable":
            raise DownloadError(
                "The server could not be reached.", reason=DownloadReason.CONNECTION
            )
        if self.fault == "refused":
            raise DownloadRefused("The file is too large.", reason=DownloadReason.SIZE)
        fileobj.write(MP4)
        return DownloadResult(content_type="video/mp4", size_bytes=len(MP4), final_url=url)


@dataclass
class Env:
    """What the test function hands the machine (pytest fixtures live there)."""

    settings: object
    fake: FakeProviders
    downloads: FakeDownloads
