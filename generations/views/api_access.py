"""The profile's API section (tokens, webhook endpoints, delivery log) and the managers'
list of the team's tokens.

docs/api.md "Tokens" and "Webhooks": a token and an endpoint's secret are shown once, on the
page that answers their creation (never stored in a cookie or the session, never shown again);
revoking takes effect at once. Managers see every member's tokens and revoke those of members
they may act on (``services.team.team_action_authorize``), audited.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import ListView

from ..forms import NotificationSettingsForm
from ..forms.api import ApiTokenForm, WebhookEndpointForm
from ..models import ApiToken, WebhookEndpoint
from ..selectors.api import api_tokens_of_team
from ..services.api_tokens import api_token_create, api_token_revoke
from ..services.team import TeamPermissionDenied
from ..services.webhooks import (
    WebhookLimitReached,
    WebhookTargetRefused,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_enable,
)
from .accounts import ProfileView
from .mixins import ManagerRequiredMixin


class _ProfileAction(ProfileView):
    """A POST that answers with the profile page (to show a secret once, or form errors)."""

    http_method_names = ["post"]

    def render_profile(self, *, status: int = 200, **context):
        self.object = self.request.user
        context.setdefault("form", NotificationSettingsForm(instance=self.request.user))
        response = self.render_to_response(self.get_context_data(**context), status=status)
        response["Cache-Control"] = "no-store"  # the page may hold a secret
        return response


class ApiTokenCreateView(_ProfileAction):
    """Make a personal access token and show it once."""

    def post(self, request, *args, **kwargs):
        form = ApiTokenForm(request.POST)
        if not form.is_valid():
            return self.render_profile(status=400, token_form=form)
        new = api_token_create(
            user=request.user,
            name=form.cleaned_data["name"],
            expires_days=form.cleaned_data["expires_days"],
        )
        return self.render_profile(new_token=new)


class ApiTokenRevokeView(View):
    """Revoke one of the member's own tokens."""

    def post(self, request, pk: int):
        token = ApiToken.objects.filter(pk=pk, user=request.user).first()
        if token is None:
            raise Http404("No such token.")
        if api_token_revoke(token_id=token.pk, actor=request.user):
            messages.success(
                request,
                gettext("Token “%(name)s” is revoked; it no longer works.") % {"name": token.name},
            )
        return redirect("profile")


class WebhookEndpointCreateView(_ProfileAction):
    """Register a webhook endpoint and show its signing secret once."""

    def post(self, request, *args, **kwargs):
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint = webhook_endpoint_create(
                    user=request.user,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                )
            except WebhookTargetRefused as error:
                form.add_error("url", str(error))
            except WebhookLimitReached as error:
                form.add_error(None, str(error))
            else:
                return self.render_profile(new_endpoint=endpoint)
        return self.render_profile(status=400, webhook_form=form)


class WebhookEndpointDeleteView(View):
    """Delete one of the member's endpoints with its delivery log."""

    def post(self, request, pk: int):
        if not webhook_endpoint_delete(user=request.user, endpoint_id=pk):
            raise Http404("No such endpoint.")
        messages.success(request, _("The webhook endpoint is deleted."))
        return redirect("profile")


class WebhookEndpointEnableView(View):
    """Turn a disabled endpoint on again."""

    def post(self, request, pk: int):
        if not WebhookEndpoint.objects.filter(pk=pk, user=request.user).exists():
            raise Http404("No such endpoint.")
        if webhook_endpoint_enable(user=request.user, endpoint_id=pk):
            messages.success(request, _("The webhook endpoint is on again."))
        return redirect("profile")


class TeamTokensView(ManagerRequiredMixin, ListView):
    """List every member's API tokens with creation, last use, expiry and state."""

    template_name = "team/tokens.html"
    context_object_name = "tokens"
    paginate_by = 50

    def get_queryset(self):
        return api_tokens_of_team()


class TeamTokenRevokeView(ManagerRequiredMixin, View):
    """Revoke a team member's token (audited; the hierarchy rule applies)."""

    def post(self, request, pk: int):
        token = ApiToken.objects.select_related("user").filter(pk=pk).first()
        if token is None:
            raise Http404("No such token.")
        try:
            if api_token_revoke(token_id=token.pk, actor=request.user):
                messages.success(
                    request,
                    gettext("Revoked %(user)s's token “%(name)s”.")
                    % {"user": token.user, "name": token.name},
                )
        except TeamPermissionDenied as error:
            messages.error(request, str(error))
        return redirect("team:tokens")
