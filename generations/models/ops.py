"""Operations state shared by every node: worker heartbeats and metric values (issue #13).

Kept in the database so that any web node's ``/readyz`` and ``/metrics`` see what every
worker node did, whichever cache and broker are configured.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """One ``qcluster`` node's heartbeat, renewed every ``WORKER_HEARTBEAT_SECONDS``.

    Each worker process of the node renews it from a small thread (``generations.workers``)
    and counts the tasks it ran, so a node whose workers are dead or hung stops renewing.
    """

    node = models.CharField(verbose_name=_("node"), max_length=200, unique=True)
    host = models.CharField(verbose_name=_("host"), max_length=200)
    pid = models.PositiveIntegerField(
        verbose_name=_("PID"), help_text=_("The qcluster process (the workers' parent).")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"), db_index=True)
    tasks_done = models.PositiveBigIntegerField(verbose_name=_("tasks done"), default=0)
    providers = models.CharField(
        verbose_name=_("providers"),
        max_length=200,
        blank=True,
        help_text=_("The providers this node has a key for, comma-separated (at its last beat)."),
    )

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["node"]

    def __str__(self) -> str:
        return f"{self.node} seen {self.last_seen_at:%Y-%m-%d %H:%M:%S}"

    @property
    def provider_names(self) -> list[str]:
        """Return the providers this node is configured for (``providers`` split)."""
        return [name for name in self.providers.split(",") if name]


class OpsMetric(models.Model):
    """A named number for ``/metrics``: a counter (added to) or a last value (set).

    ``labels`` is the canonical JSON of the Prometheus labels (sorted keys, no spaces), so
    that one (name, labels) pair is one row.
    """

    name = models.CharField(verbose_name=_("name"), max_length=100)
    labels = models.CharField(verbose_name=_("labels"), max_length=300, blank=True)
    value = models.BigIntegerField(verbose_name=_("value"), default=0)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("ops metric")
        verbose_name_plural = _("ops metrics")
        constraints = [
            models.UniqueConstraint(fields=["name", "labels"], name="ops_metric_name_labels")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {self.value}"
