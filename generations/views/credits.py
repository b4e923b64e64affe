"""A member asks the managers for credits from the new-video page's price box."""

from django.contrib import messages
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views import View

from ..selectors.limits import can_ask_managers
from ..services.notifications import CREDITS_REQUEST_INTERVAL, credits_request


class CreditsRequestView(View):
    """Ask the team's managers for credits or a higher cap (POST, CSRF-protected).

    The portal e-mails the managers itself, so no manager's address reaches the member's page
    (docs/architecture.md "Asking a manager for credits"). POST fields: ``credits`` (the price
    the member could not afford, optional integer) and ``next`` (where to go back to, a path on
    this site). Answers ``{"sent": bool, "message": str}`` to a request that accepts JSON
    (static/js/generation_form.js); otherwise adds the message and redirects, so the button
    works without JavaScript.
    """

    http_method_names = ["post"]

    def post(self, request):
        raw = request.POST.get("credits", "")
        credits = int(raw) if raw.isdigit() and len(raw) < 10 else None
        hours = int(CREDITS_REQUEST_INTERVAL.total_seconds() // 3600)
        if not can_ask_managers(user=request.user):
            sent, level = False, messages.ERROR
            text = gettext("No manager has an e-mail address on the portal; ask one in person.")
        elif credits_request(user=request.user, credits=credits):
            sent, level = True, messages.SUCCESS
            text = gettext(
                "Your managers have been asked for credits. Submit again once they grant them."
            )
        else:
            sent, level = False, messages.INFO
            text = ngettext(
                "You already asked within the last hour; your managers have your request.",
                "You already asked within the last %(hours)d hours; your managers have your "
                "request.",
                hours,
            ) % {"hours": hours}
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"sent": sent, "message": text})
        messages.add_message(request, level, text)
        target = request.POST.get("next", "")
        safe = target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return HttpResponseRedirect(target if safe else reverse("generations:new"))
