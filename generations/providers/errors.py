"""Typed errors raised by the provider clients and the outbound-HTTP wrapper.

Every error says whether trying again can help (``retryable``) and whether an operator must
act (``alert_admin``). Retry policy itself belongs to the callers (tasks with backoff); nothing
in ``generations.providers`` retries on its own.

The HTTP status mapping follows docs/providers/apixo.md "HTTP errors" (pages disagree, so every
listed status is handled).
"""

from __future__ import annotations

from enum import StrEnum

# Longest provider-supplied text copied into a user-facing message.
_MAX_PROVIDER_TEXT = 300


class ProviderError(Exception):
    """Base of every error raised by ``generations.providers``.

    Attributes:
        message: human text, safe to show a user (no secrets, no raw bodies).
        status: the HTTP status of the answer, or None when there was no answer.
        code: the provider's machine code (APIXO: its numeric body ``code`` as a string)
            or one of ours (``default_code`` of each class).
        retryable: True when the same call may succeed later (with backoff).
        alert_admin: True when an operator must act (credentials, provider balance).
        detail: extra text for logs only (e.g. a body excerpt); not for users.
        provider_shaped: True when the answer's body was the provider's own documented error
            shape (APIXO's ``{"code", "message", "data"}`` envelope with ``code`` equal to the
            status, aivideoapi.ai's ``{"error": {"code", ...}}``), so the provider itself
            answered; False for an empty, HTML or foreign body, e.g. a CDN's or a proxy's
            page (see :func:`submit_outcome_unknown`).
    """

    default_code = "provider_error"
    default_message = "The video service returned an error."
    retryable = False
    alert_admin = False
    provider_shaped = False

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str = "",
        retryable: bool | None = None,
        alert_admin: bool | None = None,
        detail: str = "",
    ) -> None:
        """Build the error; omitted flags keep the class defaults."""
        self.message = message or self.default_message
        self.status = status
        self.code = code or self.default_code
        if retryable is not None:
            self.retryable = retryable
        if alert_admin is not None:
            self.alert_admin = alert_admin
        self.detail = detail
        super().__init__(self.message)

    def __repr__(self) -> str:
        """Show the fields that matter in logs."""
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, "
            f"code={self.code!r}, retryable={self.retryable!r}, detail={self.detail!r})"
        )


class ProviderRequestRejected(ProviderError):
    """The provider refused the request as invalid (HTTP 400/422); fix it, do not retry."""

    default_code = "request_rejected"
    default_message = "The video service rejected the request."


class ProviderAuthError(ProviderError):
    """The API key is missing, invalid or lacks access (HTTP 401/403)."""

    default_code = "auth_failed"
    default_message = (
        "The video service refused the portal's credentials. An administrator must check them."
    )
    alert_admin = True


class ProviderBalanceError(ProviderError):
    """The provider account has no balance left (HTTP 402)."""

    default_code = "insufficient_balance"
    default_message = "The video service account is out of funds. An administrator must top it up."
    alert_admin = True


class ProviderNotFound(ProviderError):
    """The model or the task does not exist at the provider (HTTP 404)."""

    default_code = "not_found"
    default_message = "The video service does not know this model or task."


class ProviderTaskNotFound(ProviderNotFound):
    """The provider said, in its documented shape, that the task does not exist.

    Only these answers count (a 404 with an unreadable body, e.g. a proxy's HTML page, is
    a plain :class:`ProviderNotFound` and proves nothing):

    - APIXO: HTTP 404 with a well-formed envelope whose ``code`` is 404
      (docs/providers/apixo.md "HTTP errors": "404 model or task not found"; "Envelope and states"),
      or an HTTP 200 whose envelope ``code`` is 404 ("a 200 response whose body code is not 200 is
      an error carrying that code");
    - aivideoapi.ai: HTTP 404 with ``{"error": {"code": "task_not_found", ...}}``
      (docs/providers/aivideoapi.md "Error Reference").
    """

    default_code = "task_not_found"
    default_message = "The video service does not know this task."


class ProviderRateLimited(ProviderError):
    """Rate or concurrency limit reached (HTTP 429); retry with backoff and jitter."""

    default_code = "rate_limited"
    default_message = "The video service is busy right now."
    retryable = True


class ProviderSpendLimited(ProviderError):
    """The API key reached a spending limit set on it (aivideoapi.ai 429 ``spend_limit_exceeded``).

    Not retryable and not a :class:`ProviderRateLimited`, although it comes as HTTP 429: the
    limit is per hour, per day or in total (docs/providers/aivideoapi.md "Keys and limits"), so a
    backoff of seconds cannot help, and a total limit never resets by itself; an operator must raise
    the key's limit in the provider's dashboard. Not a :class:`ProviderBalanceError` either:
    the account may still hold credits, and "top it up" would send the operator the wrong way.
    """

    default_code = "spend_limit_exceeded"
    default_message = (
        "The video service key reached its spending limit. An administrator must raise it."
    )
    alert_admin = True


class ProviderServerError(ProviderError):
    """Server, upstream, unavailable or gateway timeout (HTTP 5xx); retry with backoff."""

    default_code = "server_error"
    default_message = "The video service had a temporary error."
    retryable = True


class ProviderConnectionError(ProviderError):
    """No connection was made (DNS, refused, connect timeout, TLS): nothing was sent."""

    default_code = "connection_failed"
    default_message = "Could not reach the video service."
    retryable = True


class ProviderOutcomeUnknown(ProviderError):
    """The request was sent but no complete answer came back (read timeout, dropped link).

    For a submit the task may or may not exist, so ``retryable`` is False: re-sending blindly
    could start and bill a second task (docs/architecture.md "Generation lifecycle"). A status read
    is idempotent; see :func:`is_retryable`.
    """

    default_code = "outcome_unknown"
    default_message = "The connection to the video service dropped before it answered."


class ProviderResponseError(ProviderError):
    """The answer could not be understood: not JSON, wrong envelope, bad ``resultJson``."""

    default_code = "bad_response"
    default_message = "The video service sent an answer that could not be understood."


class DownloadReason(StrEnum):
    """Why a guarded download failed or was refused (``DownloadError.reason``)."""

    SCHEME = "scheme"  # not http or https
    URL = "url"  # unparsable, no host, credentials in the URL
    ADDRESS = "address"  # resolves to a private, loopback, link-local, ... address
    DNS = "dns"  # the host name does not resolve
    REDIRECTS = "redirects"  # too many redirects, or a redirect without Location
    STATUS = "status"  # the server answered with an error status
    CONTENT_TYPE = "content_type"  # Content-Type header not allowed
    CONTENT = "content"  # the first bytes are not an allowed media type
    SIZE = "size"  # larger than the byte cap
    TIMEOUT = "timeout"  # the wall-clock cap ran out
    CONNECTION = "connection"  # connect, TLS or transfer failure


class DownloadError(ProviderError):
    """A guarded download failed on the way (network, server error, time limit).

    Attributes:
        reason: a :class:`DownloadReason`, for tests, logs and form messages.
    """

    default_code = "download_failed"
    default_message = "The file could not be downloaded."
    retryable = True

    def __init__(self, message: str = "", *, reason: DownloadReason, **kwargs) -> None:
        """Build the error; ``kwargs`` are those of :class:`ProviderError`."""
        kwargs.setdefault("code", str(reason))
        super().__init__(message, **kwargs)
        self.reason = reason

    def __reduce__(self):
        """Pickle with the keyword-only ``reason`` (task queues pickle exceptions)."""
        return (_rebuild_download_error, (type(self), self.reason), self.__dict__)


class DownloadRefused(DownloadError):
    """The download policy refused the URL or the content; retrying cannot help."""

    default_code = "download_refused"
    default_message = "The file was refused."
    retryable = False


def _rebuild_download_error(cls: type[DownloadError], reason: DownloadReason) -> DownloadError:
    """Recreate a :class:`DownloadError` while unpickling; its state follows."""
    return cls(reason=reason)


_CLASS_BY_STATUS: dict[int, type[ProviderError]] = {
    400: ProviderRequestRejected,
    422: ProviderRequestRejected,
    401: ProviderAuthError,
    403: ProviderAuthError,
    402: ProviderBalanceError,
    404: ProviderNotFound,
    429: ProviderRateLimited,
    500: ProviderServerError,
    502: ProviderServerError,
    503: ProviderServerError,
    504: ProviderServerError,
}

# Classes whose user message quotes the provider's own explanation (it helps fix the input).
_QUOTES_PROVIDER = (ProviderRequestRejected, ProviderNotFound, ProviderAuthError)


def error_class_for_status(status: int) -> type[ProviderError]:
    """Return the error class for an HTTP status (or a body ``code`` that stands for one).

    Source: docs/providers/apixo.md "HTTP errors". Statuses outside the table fall back by class:
    other 4xx are rejections (not retryable), other 5xx server errors (retryable), anything else
    (1xx, 2xx, 3xx) an answer that cannot be understood.
    """
    if status in _CLASS_BY_STATUS:
        return _CLASS_BY_STATUS[status]
    if 400 <= status <= 499:
        return ProviderRequestRejected
    if 500 <= status <= 599:
        return ProviderServerError
    return ProviderResponseError


def error_for_status(
    status: int,
    *,
    http_status: int | None = None,
    code: str = "",
    provider_text: str = "",
    detail: str = "",
) -> ProviderError:
    """Return (not raise) the typed error for a failed provider answer.

    Args:
        status: the status that decides the class: the HTTP status, or the body ``code`` of
            an HTTP 200 answer whose ``code`` is not 200
            (docs/providers/apixo.md "Envelope and states").
        http_status: the real HTTP status, when it differs from ``status``.
        code: the provider's machine code; defaults to the class's own code.
        provider_text: the provider's human explanation (e.g. APIXO ``message`` plus
            ``data.error``); quoted in the user message for rejections, 403 and 404.
        detail: extra text for logs.
    """
    cls = error_class_for_status(status)
    message = ""
    text = " ".join(provider_text.split())[:_MAX_PROVIDER_TEXT]
    if text and issubclass(cls, _QUOTES_PROVIDER) and status != 401:
        message = f"{cls.default_message} The service said: {text}"
    return cls(
        message,
        status=http_status if http_status is not None else status,
        code=code,
        detail=detail or text,
    )


class ReadFault(StrEnum):
    """What a failed status read means for the job (:func:`status_read_fault`)."""

    NOT_FOUND = "not_found"  # documented "task does not exist": confirm after a delay
    CREDENTIALS = "credentials"  # an operator must act: alert, pause the provider, keep holds
    TRANSIENT = "transient"  # anything else: back off with jitter until the job's deadline


# Refusals that only an operator can end (docs/providers/apixo.md "HTTP errors": 401, 402, 403 "no
# retry (alert an admin)"; aivideoapi.ai 429 ``spend_limit_exceeded``), and a misconfigured address.
_CREDENTIAL_ERRORS = (ProviderAuthError, ProviderBalanceError, ProviderSpendLimited)


def is_credentials_error(error: ProviderError) -> bool:
    """Tell whether ``error`` says the provider refuses the portal's account itself.

    True for 401/403 (key invalid or without access), 402 (no balance; also APIXO's 400
    "Insufficient credits"), aivideoapi.ai's 429 ``spend_limit_exceeded`` and a provider
    address that cannot be used (``bad_configuration``): every call to that provider fails
    the same way until an operator acts, and none of them says anything about a task.
    """
    return isinstance(error, _CREDENTIAL_ERRORS) or (
        isinstance(error, ProviderConnectionError) and error.alert_admin
    )


def status_read_fault(error: ProviderError) -> ReadFault:
    """Classify a failed status read (poll or callback confirmation); the one taxonomy.

    A job ends only on a definitive answer (docs/architecture.md "What must hold"): a well-formed
    status stating a final task state (not an error, so not classified here), or a documented "task
    does not exist" confirmed again after a delay. So:

    - ``NOT_FOUND``: :class:`ProviderTaskNotFound` only (documented shapes, see there);
    - ``CREDENTIALS``: :func:`is_credentials_error` (401, 402, 403, spend limit, bad address);
    - ``TRANSIENT``: everything else. That is 429 and 5xx (docs/providers/apixo.md "retry with
      backoff"), timeouts and dropped connections (a read is idempotent), an answer that
      cannot be understood (an HTML maintenance page with status 200, a wrong envelope, a
      3xx: redirects are not followed), a 404 without the documented body, and any other
      4xx including 400. A 400 on a status read is a bug on one side or the other; it says
      nothing about the task, so it must not release money on one answer; the caller
      counts it (``poll_errors``) and surfaces it to managers.
    """
    if isinstance(error, ProviderTaskNotFound):
        return ReadFault.NOT_FOUND
    if is_credentials_error(error):
        return ReadFault.CREDENTIALS
    return ReadFault.TRANSIENT


# A gateway's answer about a request it may already have passed on: 502 (the upstream's
# answer was bad or cut off) and 504 (the upstream did not answer in time). Like a read
# timeout after sending, they say nothing about whether the provider created the task.
_GATEWAY_STATUSES = frozenset({502, 504})


def submit_outcome_unknown(error: ProviderError) -> bool:
    """Tell whether a failed submit may still have created (and will bill) a task.

    True for :class:`ProviderOutcomeUnknown` (sent, then the connection dropped or timed
    out), :class:`ProviderResponseError` (an answer without a usable ``taskId``) and every
    :class:`ProviderServerError` except the provider's own refusal:

    - HTTP 502 or 504 always: a gateway in front of the provider answering for a request it
      may have passed on. docs/providers.md "Error mapping" lists them as retryable, which
      holds for reads; a submit re-sent after one could start a second billed task;
    - any other 5xx whose body is not the provider's own error shape
      (``ProviderError.provider_shaped``): an empty body, an HTML page or foreign JSON comes
      from a CDN or proxy in front of the provider (e.g. a CDN's 520 or 524 after the
      origin took the request, a proxy's own 503), which may have passed the submit on.

    Only a 5xx (not 502/504) in the provider's documented error shape says that the provider
    itself refused the request (docs/providers/apixo.md "HTTP errors";
    docs/providers/aivideoapi.md "Error Reference": 500 ``internal_error``, 503
    ``upstream_error``): nothing was created, and the submit is retried
    (docs/architecture.md "Generation lifecycle").
    """
    if isinstance(error, (ProviderOutcomeUnknown, ProviderResponseError)):
        return True
    if not isinstance(error, ProviderServerError):
        return False
    return error.status in _GATEWAY_STATUSES or not error.provider_shaped


def is_retryable(error: ProviderError, *, idempotent: bool) -> bool:
    """Tell whether ``error`` allows the same call again (after a backoff delay).

    Args:
        error: the error raised by a provider call.
        idempotent: True for reads (status, balance) that may be repeated safely; then an
            unknown outcome is retryable too. False for submits, which must never be re-sent
            blindly (docs/architecture.md "Generation lifecycle").
    """
    return error.retryable or (idempotent and isinstance(error, ProviderOutcomeUnknown))
