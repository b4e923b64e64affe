"""Provider circuits: calls to a provider paused while it refuses the portal's account.

One row per provider, shared by every node through the database. ``services.circuit`` opens
it on a 401, 402, 403 or spend-limit answer (docs/providers/apixo.md "HTTP errors": "no retry (alert
an admin)"), probes it with one cheap authenticated call (the balance endpoint) at growing
intervals, and closes it when a probe succeeds. While it is open the dispatcher neither
submits nor polls that provider's jobs; they keep their holds until they expire.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..catalog import Provider


class ProviderCircuit(models.Model):
    """Whether calls to one provider are paused, since when, and when to probe next."""

    class State(models.TextChoices):
        CLOSED = "closed", _("Calls allowed")
        OPEN = "open", _("Paused")

    provider = models.CharField(
        verbose_name=_("provider"), max_length=20, choices=Provider.choices, primary_key=True
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=6, choices=State.choices, default=State.CLOSED
    )
    reason = models.TextField(
        verbose_name=_("reason"), blank=True, help_text=_("The refusal that opened it.")
    )
    opened_at = models.DateTimeField(verbose_name=_("opened at"), null=True, blank=True)
    next_probe_at = models.DateTimeField(verbose_name=_("next probe at"), null=True, blank=True)
    probes = models.PositiveIntegerField(
        verbose_name=_("probes"), default=0, help_text=_("Probes made since it opened.")
    )
    closed_at = models.DateTimeField(verbose_name=_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("provider circuit")
        verbose_name_plural = _("provider circuits")
        indexes = [models.Index(fields=["state", "next_probe_at"], name="circuit_state_probe")]

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.get_state_display()}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN
