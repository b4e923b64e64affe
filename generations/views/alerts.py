"""Managers resolve (dismiss) provider alerts from the banner shown on every page."""

from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from ..services.alerts import RESOLVE_PERMISSION, provider_alert_resolve
from .mixins import ManagerRequiredMixin


class ProviderAlertResolveView(ManagerRequiredMixin, View):
    """Mark one provider alert resolved (audited); managers holding
    ``generations.resolve_provideralert``, as in the admin (404 for anyone else). POST only."""

    http_method_names = ["post"]

    def post(self, request, pk: int) -> HttpResponseRedirect:
        if not request.user.has_perm(RESOLVE_PERMISSION):
            raise Http404("No such page.")
        provider_alert_resolve(alert_id=pk, actor=request.user)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("generations:list")
        return HttpResponseRedirect(target)
