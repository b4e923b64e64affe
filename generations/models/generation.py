"""Generations (one video job each) and their input assets.

docs/architecture.md "Generation lifecycle": queued -> submitting -> submitted -> succeeded |
failed, plus canceled (before submission) and expired (no final answer before a deadline). Moves
are forward only; the services in ``generations.services.lifecycle`` make them.
"""

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..catalog import Mode, Provider, fail_explanation
from .ledger import credits_to_usd


class GenerationQuerySet(models.QuerySet):
    def for_user(self, user) -> "GenerationQuerySet":
        """Return the generations ``user`` owns (managers see others only in manager views)."""
        return self.filter(user=user)

    def in_flight(self) -> "GenerationQuerySet":
        return self.filter(state__in=Generation.State.in_flight())

    def shared(self) -> "GenerationQuerySet":
        """Return the videos in the team library: shared by their owner and still stored.

        docs/gallery.md "Team library": a finished video with its result stored, which its
        owner shared and nobody has unshared since.
        """
        return self.filter(
            shared_at__isnull=False,
            state=Generation.State.SUCCEEDED,
            result_state=Generation.ResultState.STORED,
        )

    def viewable_by(self, user) -> "GenerationQuerySet":
        """Return the generations whose video and poster ``user`` may fetch: their own, and
        the team library's (docs/gallery.md "Team library"); every one for active staff
        holding ``generations.view_generation`` (the admin's player; docs/architecture.md
        "What must hold": others' jobs only through the admin)."""
        if user.is_active and user.is_staff and user.has_perm("generations.view_generation"):
            return self.all()
        return self.filter(
            models.Q(user=user)
            | models.Q(
                shared_at__isnull=False,
                state=Generation.State.SUCCEEDED,
                result_state=Generation.ResultState.STORED,
            )
        )

    def extendable_by(self, user) -> "GenerationQuerySet":
        """Return the stored videos ``user`` may extend into a job of their own: their own
        finished videos and the team library's (docs/gallery.md "Extending a shared video")."""
        stored = self.filter(
            state=Generation.State.SUCCEEDED, result_state=Generation.ResultState.STORED
        )
        return stored.filter(models.Q(user=user) | models.Q(shared_at__isnull=False))


class Generation(models.Model):
    """One video job: its request, its price, its provider task and its outcome."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SUBMITTING = "submitting", _("Submitting")
        UNKNOWN = "unknown", _("Submit outcome unknown")
        SUBMITTED = "submitted", _("In progress")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")
        EXPIRED = "expired", _("Expired")

        @classmethod
        def final(cls) -> tuple[str, ...]:
            return (cls.SUCCEEDED, cls.FAILED, cls.CANCELED, cls.EXPIRED)

        @classmethod
        def in_flight(cls) -> tuple[str, ...]:
            return (cls.QUEUED, cls.SUBMITTING, cls.UNKNOWN, cls.SUBMITTED)

    class ResultState(models.TextChoices):
        NONE = "", _("-")
        PENDING = "pending", _("Downloading")
        STORED = "stored", _("Stored")
        FAILED = "failed", _("Download failed")
        # The member deleted the video and its poster from storage (services.bulk_actions;
        # docs/storage.md "Bulk actions"); the row and its ledger entries stay.
        DELETED = "deleted", _("Deleted")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="generations",
    )
    mode = models.CharField(verbose_name=_("mode"), max_length=20, choices=Mode.choices)
    provider = models.CharField(
        verbose_name=_("provider"), max_length=20, choices=Provider.choices, default=Provider.APIXO
    )
    model_id = models.CharField(verbose_name=_("model ID"), max_length=64)
    failover_from = models.CharField(
        verbose_name=_("failover from"),
        max_length=20,
        choices=Provider.choices,
        blank=True,
        help_text=_("The provider that kept refusing the submit before failover moved the job."),
    )
    state = models.CharField(
        verbose_name=_("state"), max_length=12, choices=State.choices, default=State.QUEUED
    )

    # The request, as the member gave it (docs/providers/apixo.md "Parameters").
    prompt = models.TextField(verbose_name=_("prompt"))
    resolution = models.CharField(verbose_name=_("resolution"), max_length=8)
    duration = models.PositiveSmallIntegerField(
        verbose_name=_("duration"), help_text=_("Requested seconds (4-12).")
    )
    sound = models.BooleanField(verbose_name=_("sound"))
    aspect_ratio = models.CharField(verbose_name=_("aspect ratio"), max_length=5, blank=True)
    camera_fixed = models.BooleanField(
        verbose_name=_("camera fixed"),
        default=False,
        help_text=_("fixed_lens on seedance-1-5-pro, camera_fixed on extend."),
    )
    seed = models.BigIntegerField(verbose_name=_("seed"), null=True, blank=True)
    watermark = models.BooleanField(verbose_name=_("watermark"), default=False)
    source_generation = models.ForeignKey(
        "self",
        verbose_name=_("source generation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="extensions",
        help_text=_("For video-extend: the member's own generation being extended."),
    )

    # Price, fixed at submission (docs/architecture.md "Money").
    price_credits = models.PositiveIntegerField(verbose_name=_("price credits"))
    price_table = models.ForeignKey(
        "generations.PriceTable",
        verbose_name=_("price table"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    # The provider's task.
    # NULL until submitted: the unique constraint below then ignores the job.
    provider_task_id = models.CharField(  # noqa: DJ001
        verbose_name=_("provider task ID"), max_length=128, null=True, blank=True
    )
    # sha256 hex of the current submit attempt's webhook token; empty: submitted for polling.
    callback_token_hash = models.CharField(
        verbose_name=_("callback token hash"), max_length=64, blank=True
    )
    submit_attempts = models.PositiveSmallIntegerField(verbose_name=_("submit attempts"), default=0)
    # Submits the provider refused with 429 or a 5xx of its own (nothing created): they back
    # off until the deadline and do not count in ``submit_attempts``
    # (services.lifecycle.generation_submit). A database default too: during a rolling
    # upgrade a node still on older code inserts jobs without it.
    submit_refusals = models.PositiveSmallIntegerField(
        verbose_name=_("submit refusals"), default=0, db_default=0
    )
    # When the provider last refused this job's submit with HTTP 403: a second 403 after a
    # successful probe of the provider refuses the job, not the key
    # (services.lifecycle.generation_submit).
    refused_403_at = models.DateTimeField(
        verbose_name=_("refused with 403 at"), null=True, blank=True
    )
    submit_sent_at = models.DateTimeField(
        verbose_name=_("submit sent at"),
        null=True,
        blank=True,
        help_text=_("When the current submit attempt started sending; empty: nothing sent yet."),
    )
    poll_count = models.PositiveIntegerField(
        _("status checks"),
        default=0,
        help_text=_(
            "Status requests sent to the provider for this job: polls, callback confirmations,"
            " managers' polls and late looks (services.status_reads)."
        ),
    )
    poll_errors = models.PositiveSmallIntegerField(verbose_name=_("poll errors"), default=0)
    next_action_at = models.DateTimeField(
        verbose_name=_("next action at"),
        null=True,
        blank=True,
        help_text=_("When the dispatcher next submits or polls this job."),
    )
    deadline_at = models.DateTimeField(
        verbose_name=_("deadline at"),
        null=True,
        blank=True,
        help_text=_("Expire (and release the hold) if not final by then."),
    )
    provider_state = models.CharField(verbose_name=_("provider state"), max_length=32, blank=True)
    not_found_at = models.DateTimeField(
        verbose_name=_("not found at"),
        null=True,
        blank=True,
        help_text=_(
            "When the provider first said the task does not exist; a second such "
            "answer after a delay fails the job (services.lifecycle.generation_poll)."
        ),
    )
    fail_code = models.CharField(verbose_name=_("fail code"), max_length=64, blank=True)
    fail_message = models.TextField(verbose_name=_("fail message"), blank=True)
    cost_time_ms = models.PositiveIntegerField(
        verbose_name=_("cost time (ms)"), null=True, blank=True
    )

    # The result, kept by the portal (docs/architecture.md "Users and their jobs": not an expiring
    # provider link).
    result_url = models.URLField(verbose_name=_("result URL"), max_length=2000, blank=True)
    result_state = models.CharField(
        verbose_name=_("result state"),
        max_length=8,
        choices=ResultState.choices,
        default=ResultState.NONE,
        blank=True,
    )
    result_file = models.FileField(
        verbose_name=_("result file"), upload_to="results/%Y/%m/", blank=True
    )
    result_bytes = models.PositiveBigIntegerField(
        verbose_name=_("result size (bytes)"), null=True, blank=True
    )
    # A still frame of the stored result, in the same storage (services.posters); empty
    # until made, or when it could not be made: the gallery card then shows the video.
    poster = models.FileField(verbose_name=_("poster"), upload_to="posters/%Y/%m/", blank=True)
    download_attempts = models.PositiveSmallIntegerField(
        verbose_name=_("download attempts"), default=0
    )

    # A final answer that came after the job expired (its hold was already released): kept
    # for managers to decide on; no money moves (services.lifecycle.generation_late_record).
    late_state = models.CharField(
        verbose_name=_("late state"),
        max_length=12,
        choices=[("", "-"), ("succeeded", _("Succeeded"))],
        blank=True,
        help_text=_("The provider's final state, reported after the job expired."),
    )
    late_result_url = models.URLField(
        verbose_name=_("late result URL"), max_length=2000, blank=True
    )
    late_finished_at = models.DateTimeField(
        verbose_name=_("late finished at"), null=True, blank=True
    )

    # The member's own mark, toggled on the gallery card (services.owner_actions).
    favourite = models.BooleanField(verbose_name=_("favourite"), default=False)
    # When the owner shared the finished video with the team (the team library); empty: not
    # shared, the default (services.sharing, docs/gallery.md "Team library").
    shared_at = models.DateTimeField(verbose_name=_("shared at"), null=True, blank=True)

    # Out of the gallery unless its "Hidden" filter is on; restorable (services.bulk_actions).
    hidden_at = models.DateTimeField(verbose_name=_("hidden at"), null=True, blank=True)
    # Deleted by its member: out of the gallery, files gone, the row and the ledger kept
    # (docs/storage.md "Bulk actions").
    deleted_at = models.DateTimeField(verbose_name=_("deleted at"), null=True, blank=True)

    # One-time key from the form, so a double submit creates one generation (or one group
    # of variations: only the group's first job carries the key).
    client_token = models.CharField(verbose_name=_("client token"), max_length=64, blank=True)

    # Variations (issue #15 item 7; docs/prices.md "Variations"): jobs made by one
    # submission share a group id; index is 1-based, count the group's size. Empty for a
    # job submitted alone. Fixed at creation, so a card shows "Variation 2 of 4" without
    # reading its siblings.
    variation_group = models.UUIDField(verbose_name=_("variation group"), null=True, blank=True)
    variation_index = models.PositiveSmallIntegerField(
        verbose_name=_("variation index"), null=True, blank=True
    )
    variation_count = models.PositiveSmallIntegerField(
        verbose_name=_("variation count"), null=True, blank=True
    )

    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=timezone.now, db_index=True
    )
    submitted_at = models.DateTimeField(verbose_name=_("submitted at"), null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name=_("finished at"), null=True, blank=True)
    # When the provider says the task finished (its completeTime): finalize latency (#13).
    provider_completed_at = models.DateTimeField(
        verbose_name=_("provider completed at"), null=True, blank=True
    )
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        verbose_name = _("generation")
        verbose_name_plural = _("generations")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("act_on_generation", _("Can cancel, expire, poll and retry downloads of generations")),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="generation_user_created"),
            # Live updates (selectors.generations.generation_updates): what changed lately,
            # and how many of a member's jobs still run, without reading their history.
            models.Index(fields=["user", "updated_at"], name="generation_user_updated"),
            models.Index(
                fields=["user"],
                condition=models.Q(state__in=["queued", "submitting", "unknown", "submitted"])
                | models.Q(state="succeeded", result_state="pending"),
                name="generation_user_active",
            ),
            models.Index(fields=["state", "next_action_at"], name="generation_state_due"),
            # The first poll's schedule reads the latest completion times of similar jobs at
            # each submit (selectors.poll_schedule.completion_samples).
            models.Index(
                fields=["provider", "mode", "resolution", "duration", "-provider_completed_at"],
                name="generation_poll_schedule",
                condition=models.Q(
                    state="succeeded",
                    provider_completed_at__isnull=False,
                    submitted_at__isnull=False,
                ),
            ),
            # The gallery's toolbar (docs/gallery.md "Filters and sort"): price order, and the
            # favourites chip, without reading a member's whole history.
            models.Index(fields=["user", "price_credits", "id"], name="generation_user_price"),
            models.Index(
                fields=["user", "-created_at"],
                condition=models.Q(favourite=True),
                name="generation_user_favourite",
            ),
            # The team library, newest first (selectors.generations.team_library_generations).
            models.Index(
                fields=["-created_at", "-id"],
                # The whole library condition (GenerationQuerySet.shared), so the planner
                # can read the first page in index order.
                condition=models.Q(
                    shared_at__isnull=False, state="succeeded", result_state="stored"
                ),
                name="generation_shared_created",
            ),
            # Covers the team spend page's jobs per member and state (issue #14).
            models.Index(
                fields=["created_at", "user", "state", "provider"], name="generation_created_jobs"
            ),
            # The admin list's filters on values most jobs do not have (generations/admin.py,
            # docs/architecture.md "Admin lists at scale"): without them, a rare value made
            # both the capped count and the newest-first page read the whole table.
            models.Index(
                fields=["-id"],
                condition=~models.Q(failover_from=""),
                name="generation_failover_newest",
            ),
            models.Index(
                fields=["fail_code", "-id"],
                condition=~models.Q(fail_code=""),
                name="generation_fail_code_newest",
            ),
            models.Index(
                fields=["result_state", "-id"],
                condition=~models.Q(result_state=""),
                name="generation_result_newest",
            ),
            models.Index(fields=["provider", "-id"], name="generation_provider_newest"),
            models.Index(
                fields=["-id"],
                condition=models.Q(state__in=["queued", "submitting", "unknown", "submitted"])
                | models.Q(state="succeeded", result_state="failed"),
                name="generation_attention_newest",
            ),
            # The gallery's "all variations of this group" link (?group=<uuid>).
            models.Index(
                fields=["user", "variation_group"],
                name="generation_user_variations",
                condition=models.Q(variation_group__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_task_id"],
                condition=models.Q(provider_task_id__isnull=False),
                name="generation_unique_provider_task",
            ),
            models.UniqueConstraint(
                fields=["user", "client_token"],
                condition=~models.Q(client_token=""),
                name="generation_unique_client_token",
            ),
            models.CheckConstraint(
                condition=models.Q(duration__gte=4, duration__lte=12),
                name="generation_duration_4_12",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.mode} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("generations:detail", kwargs={"pk": self.pk})

    @classmethod
    def active_q(cls) -> models.Q:
        """Return the condition of a job that is still running for its member: in flight, or
        succeeded with its video still downloading (the partial index
        ``generation_user_active`` has the same condition)."""
        return models.Q(state__in=cls.State.in_flight()) | models.Q(
            state=cls.State.SUCCEEDED, result_state=cls.ResultState.PENDING
        )

    @property
    def price_usd(self):
        return credits_to_usd(self.price_credits)

    @property
    def is_final(self) -> bool:
        return self.state in self.State.final()

    @property
    def is_in_flight(self) -> bool:
        return self.state in self.State.in_flight()

    @property
    def has_video(self) -> bool:
        return self.state == self.State.SUCCEEDED and self.result_state == self.ResultState.STORED

    @property
    def in_team_library(self) -> bool:
        """Tell whether the video is in the team library now (``GenerationQuerySet.shared``):
        only then may other members see it, its prompt included (docs/gallery.md)."""
        return self.shared_at is not None and self.has_video

    @property
    def fail_explanation(self) -> str:
        """Return the portal's explanation of why the job ended without a video, by
        ``fail_code``, in the active language (``catalog.fail_explanation``); "" unless the
        job failed, was canceled or expired. ``fail_message`` stays as it was written."""
        if self.state not in (self.State.FAILED, self.State.CANCELED, self.State.EXPIRED):
            return ""
        return fail_explanation(self.fail_code)

    @property
    def uses_callback(self) -> bool:
        """Tell whether the job was submitted in callback mode (a webhook token exists)."""
        return bool(self.callback_token_hash)


def _input_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits


class GenerationInputQuerySet(models.QuerySet):
    def for_user(self, user) -> "GenerationInputQuerySet":
        """Return the inputs of the generations ``user`` owns."""
        return self.filter(generation__user=user)

    def publicly_served(self, *, now=None) -> "GenerationInputQuerySet":
        """Return the inputs whose public URL works now: stored here and not expired.

        An input is served while its generation is in flight, and after that until
        ``expires_at`` (set when the generation becomes final, plus ``INPUT_URL_MARGIN``).
        """
        now = now or timezone.now()
        return self.exclude(file="").filter(
            models.Q(expires_at__gt=now)
            | models.Q(expires_at__isnull=True, generation__state__in=Generation.State.in_flight())
        )


class GenerationInput(models.Model):
    """An input asset of a generation: a start/end frame image or the source clip.

    Either stored here (``file``: an upload, re-encoded without metadata, or the member's
    own stored result for an extend) and fetched by the provider through an unguessable
    public URL (``public_token``, 192 random bits) until ``expires_at``; or a public URL
    the member gave (``source_url``), sent to the provider as it is.
    """

    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")

    generation = models.ForeignKey(
        Generation, verbose_name=_("generation"), on_delete=models.PROTECT, related_name="inputs"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=5, choices=Kind.choices)
    position = models.PositiveSmallIntegerField(
        verbose_name=_("position"), default=0, help_text=_("0: start frame, 1: end.")
    )
    file = models.FileField(verbose_name=_("file"), upload_to="inputs/%Y/%m/", blank=True)
    thumbnail = models.FileField(
        verbose_name=_("thumbnail"), upload_to="inputs/thumbnails/%Y/%m/", blank=True
    )
    original_name = models.CharField(verbose_name=_("original name"), max_length=255, blank=True)
    source_url = models.URLField(verbose_name=_("source URL"), max_length=2000, blank=True)
    content_type = models.CharField(verbose_name=_("content type"), max_length=50, blank=True)
    size_bytes = models.PositiveBigIntegerField(
        verbose_name=_("size (bytes)"), null=True, blank=True
    )
    public_token = models.CharField(
        verbose_name=_("public token"), max_length=64, unique=True, default=_input_token
    )
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    # SHA-256 of what the provider gets (the file's bytes, the URL, or the stored result's
    # name), to recognise an identical resubmission (issue #12 item 5).
    digest = models.CharField(verbose_name=_("digest"), max_length=64, blank=True)

    objects = GenerationInputQuerySet.as_manager()

    class Meta:
        verbose_name = _("generation input")
        verbose_name_plural = _("generation inputs")
        ordering = ["generation", "kind", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "kind", "position"], name="input_unique_position"
            ),
            models.CheckConstraint(
                condition=~models.Q(file="") | ~models.Q(source_url=""),
                name="input_file_or_url",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} of generation {self.generation_id}"

    def get_role_display(self) -> str:
        """Return what the input is for, in the active language: "Start frame", "End frame"
        or "Source video"."""
        if self.kind == self.Kind.VIDEO:
            return str(_("Source video"))
        return str(_("Start frame") if self.position == 0 else _("End frame"))

    @property
    def is_stored(self) -> bool:
        return bool(self.file)


class WorkerLease(models.Model):
    """A named lease, so that only one dispatcher loop runs at a time across all workers.

    Taken and renewed with a conditional UPDATE and a row-count check
    (docs/style.md "Claiming work").
    """

    name = models.CharField(verbose_name=_("name"), max_length=50, primary_key=True)
    holder = models.CharField(verbose_name=_("holder"), max_length=64, blank=True)
    expires_at = models.DateTimeField(verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("worker lease")
        verbose_name_plural = _("worker leases")

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at}"
