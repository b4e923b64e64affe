"""The credit ledger: append-only entries and the per-user account they explain.

docs/architecture.md "Money": 1 credit = US$0.001; entries are never updated or
deleted (the database refuses it, see migration 0002); ``CreditAccount.balance`` and
``held`` change only in the transaction that writes the entry explaining the change.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

USD_PER_CREDIT = Decimal("0.001")


def credits_to_usd(credits: int) -> Decimal:
    """Return the US$ value of ``credits`` (1 credit = US$0.001, docs/architecture.md "Money")."""
    return (Decimal(credits) * USD_PER_CREDIT).quantize(USD_PER_CREDIT)


class AppendOnlyError(Exception):
    """Raised on an attempt to change or delete a ledger entry."""


class CreditAccount(models.Model):
    """A user's credits: ``balance`` is available to spend, ``held`` is reserved by jobs.

    Both are integers of credits, never negative (CHECK constraints), and always equal the
    sums over the account's entries; ``ledger_check`` proves it.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="credit_account",
    )
    balance = models.BigIntegerField(_("available credits"), default=0)
    held = models.BigIntegerField(_("reserved credits"), default=0)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("credit account")
        verbose_name_plural = _("credit accounts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="account_balance_gte_0"
            ),
            models.CheckConstraint(condition=models.Q(held__gte=0), name="account_held_gte_0"),
        ]

    def __str__(self) -> str:
        """Return the account as the admin names it, in the active language."""
        from ..formats import credits

        return gettext("%(user)s: %(available)s available, %(reserved)s reserved") % {
            "user": self.user,
            "available": credits(self.balance),
            "reserved": credits(self.held),
        }

    @property
    def balance_usd(self) -> Decimal:
        return credits_to_usd(self.balance)

    @property
    def held_usd(self) -> Decimal:
        return credits_to_usd(self.held)


class CreditEntry(models.Model):
    """One append-only movement of credits.

    ``amount`` is signed. Its effect on the account depends on the kind (``EFFECTS``):

    ======== ====== ============= ==========
    kind     sign   balance       held
    ======== ====== ============= ==========
    grant    +      +amount       .
    revoke   -      +amount       .
    adjust   +/-    +amount       .
    hold     -      +amount       -amount
    release  +      +amount       -amount
    capture  -      .             +amount
    ======== ====== ============= ==========

    So a hold of 80 is ``-80`` (80 move from available to reserved), its capture is ``-80``
    (80 leave reserved: spent) and its release ``+80`` (80 return to available). Spend is
    the negated sum of captures. A capture or release names the hold it settles in
    ``hold``; the unique constraint on it allows exactly one settlement per hold.
    """

    class Kind(models.TextChoices):
        GRANT = "grant", _("Grant")
        REVOKE = "revoke", _("Revoke")
        HOLD = "hold", _("Hold")
        CAPTURE = "capture", _("Capture")
        RELEASE = "release", _("Release")
        ADJUST = "adjust", _("Adjust")

    # kind -> (factor on balance, factor on held), applied to ``amount``.
    EFFECTS: dict[str, tuple[int, int]] = {
        Kind.GRANT: (1, 0),
        Kind.REVOKE: (1, 0),
        Kind.ADJUST: (1, 0),
        Kind.HOLD: (1, -1),
        Kind.RELEASE: (1, -1),
        Kind.CAPTURE: (0, 1),
    }

    account = models.ForeignKey(
        CreditAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=10, choices=Kind.choices)
    amount = models.BigIntegerField(
        verbose_name=_("amount"), help_text=_("Signed credits; see the class docstring.")
    )
    generation = models.ForeignKey(
        "generations.Generation",
        verbose_name=_("generation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_entries",
    )
    hold = models.ForeignKey(
        "self",
        verbose_name=_("hold"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlements",
        help_text=_("For a capture or release: the hold it settles."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Who caused the entry; empty for the system."),
    )
    memo = models.CharField(verbose_name=_("memo"), max_length=255, blank=True)
    balance_after = models.BigIntegerField(
        _("available credits after"),
        null=True,
        editable=False,
        help_text=_(
            "The account's available balance right after this entry, written with it "
            "under the account lock (null only before migration 0015 backfilled it)."
        ),
    )
    idempotency_key = models.CharField(
        verbose_name=_("idempotency key"), max_length=100, unique=True
    )
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=timezone.now, db_index=True
    )

    class Meta:
        verbose_name = _("credit entry")
        verbose_name_plural = _("credit entries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="entry_account_created"),
            models.Index(fields=["kind", "-created_at"], name="entry_kind_created"),
            # Covers the statement's totals: read from the index, not the table.
            models.Index(
                fields=["account", "created_at", "kind", "amount"],
                name="entry_account_created_kind",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["grant", "release"], amount__gt=0)
                    | models.Q(kind__in=["revoke", "hold", "capture"], amount__lt=0)
                    | (models.Q(kind="adjust") & ~models.Q(amount=0))
                ),
                name="entry_amount_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind__in=["capture", "release"], hold__isnull=False)
                    | (~models.Q(kind__in=["capture", "release"]) & models.Q(hold__isnull=True))
                ),
                name="entry_settlement_names_hold",
            ),
            # Exactly one capture or release per hold (docs/architecture.md "Two-phase charging").
            models.UniqueConstraint(fields=["hold"], name="entry_one_settlement_per_hold"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.account.user_id})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Ledger entries are append-only; write a correcting entry.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Ledger entries are append-only; write a correcting entry.")

    @property
    def balance_delta(self) -> int:
        """Return the change this entry made to the account's available credits."""
        return self.EFFECTS[self.kind][0] * self.amount

    @property
    def held_delta(self) -> int:
        """Return the change this entry made to the account's reserved credits."""
        return self.EFFECTS[self.kind][1] * self.amount


# Spend is rolled up per quarter hour of UTC: every time zone's offset is a whole number of
# quarter hours, so a slot lies in one local day in any ``TIME_ZONE``.
SPEND_SLOT = timedelta(minutes=15)


# A release's ``outcome``: the job's final state when the release ends it, counted in the
# rollups' jobs by outcome (docs/architecture.md "Stored figures"). Failed and expired jobs
# are failures; canceled jobs are the member's choice, counted apart.
FAILURE_OUTCOMES = ("failed", "expired")
CANCEL_OUTCOME = "canceled"


def spend_slot(moment: datetime) -> datetime:
    """Return the start (aware, UTC) of the quarter hour containing ``moment`` (aware)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


class SpendRollup(models.Model):
    """Captured and released credits per quarter hour, member, provider, mode, resolution
    and sound: the ledger's settlements summed as they are written, with the jobs they
    ended by outcome (``captures`` succeeded; ``failures`` failed or expired; ``cancels``).

    ``credits_capture`` and ``credits_release`` add to the row of the settled job in the
    transaction that writes the entry, under the member's account lock, so the rollup always
    equals the ledger grouped the same way (``ledger_check`` proves it). The spend reports
    read it instead of the ledger (docs/architecture.md "Stored figures"). ``slot`` is the UTC
    start of the quarter hour of the entry's ``created_at`` (``spend_slot``); ``captured``
    and ``released`` are credits (>= 0); the dimensions are those of the settled generation
    (empty strings and ``False`` for an entry without one).
    """

    slot = models.DateTimeField(verbose_name=_("slot"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="+"
    )
    provider = models.CharField(verbose_name=_("provider"), max_length=20)
    mode = models.CharField(verbose_name=_("mode"), max_length=20)
    resolution = models.CharField(verbose_name=_("resolution"), max_length=8)
    sound = models.BooleanField(verbose_name=_("sound"))
    captures = models.PositiveIntegerField(verbose_name=_("captures"), default=0)
    captured = models.BigIntegerField(_("captured credits"), default=0)
    releases = models.PositiveIntegerField(verbose_name=_("releases"), default=0)
    released = models.BigIntegerField(_("released credits"), default=0)
    # Of the releases, those that ended their job failed or expired, and canceled: with the
    # captures, the jobs that ended in the slot by outcome (a failover's release is neither).
    # A database default too: a node still on older code inserts rows without them.
    failures = models.PositiveIntegerField(verbose_name=_("failures"), default=0, db_default=0)
    cancels = models.PositiveIntegerField(verbose_name=_("cancels"), default=0, db_default=0)

    class Meta:
        verbose_name = _("spend rollup")
        verbose_name_plural = _("spend rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["slot", "user", "provider", "mode", "resolution", "sound"],
                name="spend_rollup_one_row_per_group",
            ),
            models.CheckConstraint(
                condition=models.Q(captured__gte=0, released__gte=0),
                name="spend_rollup_credits_gte_0",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "slot"], name="spend_rollup_user_slot"),
            # Covers the team report's sums over a range: read from the index alone.
            models.Index(
                fields=["slot", "captures", "captured", "user", "provider", "mode", "resolution"],
                name="spend_rollup_slot_sums",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.slot:%Y-%m-%d %H:%M} {self.user_id} {self.mode}: {self.captured}"


def spend_day(moment: datetime):
    """Return the local date (``settings.TIME_ZONE``) of ``moment`` (aware): ``SpendDay.day``."""
    return timezone.localdate(moment, timezone.get_default_timezone())


class SpendDay(models.Model):
    """Captured and released credits per local day, provider, mode, resolution and sound,
    for the whole team: ``SpendRollup`` without the member, by day.

    A year of the team's spend is at most 366 days times the catalog's combinations of rows,
    whatever the number of jobs or members, where ``SpendRollup`` holds about one row per
    capture at a team's usual density (one member rarely settles two jobs of one kind in a
    quarter hour). The team spend page's series and breakdowns read it
    (``selectors.reports.team_spend``; docs/architecture.md "Stored figures"). ``day`` is
    the local date in ``settings.TIME_ZONE`` of the entry's ``created_at`` (``spend_day``):
    the days the page shows. ``credits_capture`` and ``credits_release`` add to it in the
    transaction that writes the entry, after the member's ``SpendRollup`` row; ``ledger_check``
    compares it with the ledger. Changing ``TIME_ZONE`` moves day boundaries:
    ``manage.py ledger_check --rebuild-spend-days`` then rewrites the rows
    (docs/deploy.md).
    """

    day = models.DateField(verbose_name=_("day"))
    provider = models.CharField(verbose_name=_("provider"), max_length=20)
    mode = models.CharField(verbose_name=_("mode"), max_length=20)
    resolution = models.CharField(verbose_name=_("resolution"), max_length=8)
    sound = models.BooleanField(verbose_name=_("sound"))
    captures = models.PositiveIntegerField(verbose_name=_("captures"), default=0)
    captured = models.BigIntegerField(_("captured credits"), default=0)
    releases = models.PositiveIntegerField(verbose_name=_("releases"), default=0)
    released = models.BigIntegerField(_("released credits"), default=0)
    # As in SpendRollup.
    failures = models.PositiveIntegerField(verbose_name=_("failures"), default=0, db_default=0)
    cancels = models.PositiveIntegerField(verbose_name=_("cancels"), default=0, db_default=0)

    class Meta:
        verbose_name = _("spend day")
        verbose_name_plural = _("spend days")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "provider", "mode", "resolution", "sound"],
                name="spend_day_one_row_per_group",
            ),
            models.CheckConstraint(
                condition=models.Q(captured__gte=0, released__gte=0),
                name="spend_day_credits_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.provider} {self.mode}: {self.captured}"


class AccountTotals(models.Model):
    """An account's entries counted and summed per kind, cumulatively, up to the end of a
    UTC quarter hour in which it has entries: one row per account and such quarter hour.

    Each ``<kind>_count`` is the number of the account's entries of that kind with
    ``created_at`` before ``slot`` + 15 minutes, each ``<kind>_credits`` the sum of their
    signed ``amount`` (credits). So the totals of any range of quarter hours, such as the
    local days a statement shows, are the difference of two rows: the latest before its end
    and the latest before its start (``selectors.reports.statement_totals``). Every entry
    adds to the row of its quarter hour and to any later row, in the transaction that writes
    it, under the account lock (``services.ledger``); ``ledger_check`` recomputes every row
    (docs/architecture.md "Stored figures").
    """

    account = models.ForeignKey(
        CreditAccount, verbose_name=_("account"), on_delete=models.PROTECT, related_name="+"
    )
    slot = models.DateTimeField(
        verbose_name=_("slot"), help_text=_("UTC start of the quarter hour (spend_slot).")
    )
    grant_count = models.BigIntegerField(verbose_name=_("grant count"), default=0)
    grant_credits = models.BigIntegerField(verbose_name=_("grant credits"), default=0)
    revoke_count = models.BigIntegerField(verbose_name=_("revoke count"), default=0)
    revoke_credits = models.BigIntegerField(verbose_name=_("revoke credits"), default=0)
    hold_count = models.BigIntegerField(verbose_name=_("hold count"), default=0)
    hold_credits = models.BigIntegerField(verbose_name=_("hold credits"), default=0)
    capture_count = models.BigIntegerField(verbose_name=_("capture count"), default=0)
    capture_credits = models.BigIntegerField(verbose_name=_("capture credits"), default=0)
    release_count = models.BigIntegerField(verbose_name=_("release count"), default=0)
    release_credits = models.BigIntegerField(verbose_name=_("release credits"), default=0)
    adjust_count = models.BigIntegerField(verbose_name=_("adjust count"), default=0)
    adjust_credits = models.BigIntegerField(verbose_name=_("adjust credits"), default=0)

    # The figure columns, in CreditEntry.Kind order: (kind, count field, credits field).
    FIGURES: tuple[tuple[str, str, str], ...] = tuple(
        (kind, f"{kind}_count", f"{kind}_credits") for kind in CreditEntry.Kind.values
    )

    class Meta:
        verbose_name = _("account totals")
        verbose_name_plural = _("account totals")
        constraints = [
            # Also the index the statement reads: the latest row of an account before a time.
            models.UniqueConstraint(fields=["account", "slot"], name="account_totals_one_per_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} to {self.slot:%Y-%m-%d %H:%M} UTC"

    @classmethod
    def field_names(cls) -> list[str]:
        """Return the figure columns' names, count then credits for each kind."""
        return [name for _, count, credits in cls.FIGURES for name in (count, credits)]
