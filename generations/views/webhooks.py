"""The provider's webhook: the only CSRF-exempt view (docs/style.md practice 9).

APIXO and aivideoapi.ai POST a task's final state to the callback URL the portal gave it
(docs/providers/apixo.md "Webhooks" and docs/providers/aivideoapi.md "Callback"); the URL carries
the generation id and a secret token. Everything else is the service's job
(``services.callbacks.generation_callback_receive``).
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..metrics import webhook_delivery_observed
from ..services.callbacks import CallbackRetryLater, generation_callback_receive

# A callback body is one statusTask envelope: a few hundred bytes
# (docs/providers/apixo.md "Poll for result").
WEBHOOK_MAX_BYTES = 64 * 1024
# aivideoapi.ai's callback headers (docs/providers/aivideoapi.md "Callback"); APIXO sends none.
CALLBACK_HEADERS = ("X-Event", "X-Task-Id", "X-Timestamp")
# The result label of seedance_webhook_deliveries_total for each answer (/metrics, #13).
_RESULTS = {
    200: "accepted",
    400: "bad_request",
    404: "not_found",
    413: "too_large",
    503: "retry_later",
}
# When a provider that reads Retry-After should deliver again (seconds); both document their
# own retry schedules (docs/providers/apixo.md "Webhooks", docs/providers/aivideoapi.md
# "Callback"), so this is only a hint.
RETRY_AFTER_S = 30


@method_decorator([csrf_exempt, login_not_required], name="dispatch")
class GenerationWebhookView(View):
    """Receive a callback: 200 when recognised, 404 for a wrong or unknown token.

    503 when the token is right but the job still waits for its submit answer and the
    delivery names no task (``services.callbacks.CallbackRetryLater``): the provider retries.

    POST only (405 otherwise). The body is capped at ``WEBHOOK_MAX_BYTES`` (413 above it)
    and parsed strictly by the provider client; the outcome is confirmed with a fresh
    status read before anything is finalized.
    """

    http_method_names = ["post"]

    def post(self, request, generation_id: int, token: str) -> HttpResponse:
        response = self._receive(request, generation_id, token)
        webhook_delivery_observed(_RESULTS.get(response.status_code, "error"))
        return response

    def _receive(self, request, generation_id: int, token: str) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Bad Content-Length.\n", status=400, content_type="text/plain")
        if declared > WEBHOOK_MAX_BYTES:
            return HttpResponse("Body too large.\n", status=413, content_type="text/plain")
        body = request.read(WEBHOOK_MAX_BYTES + 1)
        if len(body) > WEBHOOK_MAX_BYTES:
            return HttpResponse("Body too large.\n", status=413, content_type="text/plain")
        headers = {
            name: request.headers[name] for name in CALLBACK_HEADERS if name in request.headers
        }
        try:
            recognised = generation_callback_receive(
                generation_id=generation_id, token=token, body=body, headers=headers
            )
        except CallbackRetryLater:
            response = HttpResponse(
                "No task id; send again.\n", status=503, content_type="text/plain"
            )
            response["Retry-After"] = str(RETRY_AFTER_S)
            return response
        if not recognised:
            response = HttpResponse("Not found.\n", status=404, content_type="text/plain")
            # A wrong token is counted in /metrics (result "not_found") and its access line
            # is written by gunicorn; django.request's own "Not Found" line for each one would
            # double the cost of the answer to a flood of forged deliveries (issue #14 item 4).
            response._has_been_logged = True
            return response
        return HttpResponse("OK\n", content_type="text/plain")
