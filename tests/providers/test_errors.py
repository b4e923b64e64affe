"""The typed provider errors: status mapping (docs/providers/apixo.md "HTTP errors"), flags,
pickling."""

import pickle

import pytest

from generations.providers.errors import (
    DownloadError,
    DownloadReason,
    DownloadRefused,
    ProviderAuthError,
    ProviderBalanceError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotFound,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderResponseError,
    ProviderServerError,
    ProviderSpendLimited,
    ProviderTaskNotFound,
    ReadFault,
    error_for_status,
    is_retryable,
    status_read_fault,
)

# status -> (class, retryable, alert_admin), docs/providers/apixo.md "HTTP errors".
DOCUMENTED = {
    400: (ProviderRequestRejected, False, False),
    401: (ProviderAuthError, False, True),
    402: (ProviderBalanceError, False, True),
    403: (ProviderAuthError, False, True),
    404: (ProviderNotFound, False, False),
    422: (ProviderRequestRejected, False, False),
    429: (ProviderRateLimited, True, False),
    500: (ProviderServerError, True, False),
    502: (ProviderServerError, True, False),
    503: (ProviderServerError, True, False),
    504: (ProviderServerError, True, False),
}


@pytest.mark.parametrize("status", sorted(DOCUMENTED))
def test_documented_statuses_map_to_typed_errors(status):
    cls, retryable, alert_admin = DOCUMENTED[status]
    error = error_for_status(status)
    assert type(error) is cls
    assert error.status == status
    assert error.retryable is retryable
    assert error.alert_admin is alert_admin
    assert error.message


@pytest.mark.parametrize(
    ("status", "cls"),
    [(409, ProviderRequestRejected), (501, ProviderServerError), (302, ProviderResponseError)],
)
def test_undocumented_statuses_fall_back_by_class(status, cls):
    assert type(error_for_status(status)) is cls


def test_body_code_decides_the_class_but_http_status_is_kept():
    error = error_for_status(402, http_status=200, code="402")
    assert isinstance(error, ProviderBalanceError)
    assert error.status == 200
    assert error.code == "402"


def test_rejection_quotes_the_provider_text_but_auth_failure_does_not():
    rejected = error_for_status(400, provider_text="Invalid request: Missing field: input.prompt")
    assert "Missing field: input.prompt" in rejected.message
    unauthorised = error_for_status(401, provider_text="Invalid or missing API key")
    assert "API key" not in unauthorised.message
    assert unauthorised.detail == "Invalid or missing API key"


def test_provider_text_is_shortened_and_flattened():
    error = error_for_status(400, provider_text="bad\n" + "x" * 1000)
    assert "\n" not in error.message
    assert len(error.message) < 400


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (ProviderOutcomeUnknown(), False, False),
        (ProviderOutcomeUnknown(), True, True),
        (ProviderConnectionError(), False, True),
        (ProviderRateLimited(), False, True),
        (ProviderResponseError(), True, False),
        (ProviderAuthError(), True, False),
    ],
)
def test_is_retryable(error, idempotent, expected):
    assert is_retryable(error, idempotent=idempotent) is expected


def test_outcome_unknown_is_not_retryable_by_itself():
    assert ProviderOutcomeUnknown().retryable is False


def test_flags_can_be_overridden_per_instance():
    error = ProviderConnectionError(retryable=False, alert_admin=True, code="bad_configuration")
    assert (error.retryable, error.alert_admin, error.code) == (False, True, "bad_configuration")
    assert ProviderConnectionError().retryable is True


def test_download_errors_carry_a_reason_and_are_provider_errors():
    refused = DownloadRefused("no", reason=DownloadReason.ADDRESS)
    assert isinstance(refused, DownloadError)
    assert isinstance(refused, ProviderError)
    assert refused.reason is DownloadReason.ADDRESS
    assert refused.code == "address"
    assert refused.retryable is False
    assert DownloadError(reason=DownloadReason.TIMEOUT).retryable is True


@pytest.mark.parametrize(
    "error",
    [
        ProviderServerError("busy", status=503, code="503", detail="log"),
        DownloadRefused("too big", reason=DownloadReason.SIZE, status=200),
    ],
)
def test_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.message, copy.status, copy.code, copy.retryable, copy.detail) == (
        error.message,
        error.status,
        error.code,
        error.retryable,
        error.detail,
    )
    assert getattr(copy, "reason", None) == getattr(error, "reason", None)


def test_repr_shows_the_fields_and_str_the_message():
    error = ProviderRateLimited(status=429, code="429")
    assert str(error) == error.message
    assert "status=429" in repr(error)


# What a failed status read means for the job (issue #12 item 1; docs/architecture.md "What must
# hold"): only a documented "task does not exist" may end it (after a confirmation), credentials
# pause the provider, everything else backs off.
READ_FAULTS = [
    (ProviderTaskNotFound(status=404), ReadFault.NOT_FOUND),
    (ProviderNotFound(status=404), ReadFault.TRANSIENT),  # a 404 page proves nothing
    (ProviderAuthError(status=401), ReadFault.CREDENTIALS),
    (ProviderAuthError(status=403), ReadFault.CREDENTIALS),
    (ProviderBalanceError(status=402), ReadFault.CREDENTIALS),
    (ProviderSpendLimited(status=429), ReadFault.CREDENTIALS),
    (
        ProviderConnectionError(code="bad_configuration", retryable=False, alert_admin=True),
        ReadFault.CREDENTIALS,
    ),
    (ProviderRateLimited(status=429), ReadFault.TRANSIENT),
    (ProviderServerError(status=502), ReadFault.TRANSIENT),
    (ProviderResponseError(status=200), ReadFault.TRANSIENT),  # an HTML maintenance page
    (ProviderResponseError(status=302), ReadFault.TRANSIENT),  # a redirect
    (ProviderOutcomeUnknown(), ReadFault.TRANSIENT),  # a read timeout
    (ProviderConnectionError(), ReadFault.TRANSIENT),
    (ProviderRequestRejected(status=400), ReadFault.TRANSIENT),  # surfaced, never final
    (ProviderRequestRejected(status=409), ReadFault.TRANSIENT),
]


@pytest.mark.parametrize(("error", "fault"), READ_FAULTS, ids=lambda v: repr(v)[:40])
def test_every_failed_status_read_is_classified(error, fault):
    assert status_read_fault(error) == fault
