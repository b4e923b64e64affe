"""Reads for the spend reports: a member's usage and statement, the team's spend.

docs/architecture.md "Money": spend is captured credits, the negated sum of ``capture`` entries'
amounts; "reserved" is ``CreditAccount.held``; 1 credit = US$0.001.
docs/architecture.md "Users and their jobs": members see their own usage, managers the team's spend
per member, provider, mode, resolution and period, and each provider account's balance (issue #7).
Spend is counted against the provider of the captured generation (``Generation.provider``, the one
that ran the job after any failover).

Every function issues a constant number of queries whatever the number of members,
generations and entries (docs/architecture.md "Performance targets"): sums are made by the database
(``values(...).annotate(...)``), never by loading rows. They read stored figures, not the
whole history (docs/architecture.md "Stored figures"): the statement shows each entry's
``balance_after``, and spend comes from ``SpendRollup`` (captured credits per UTC quarter
hour, member, provider, mode, resolution and sound), which the ledger services keep equal
to the captures. Calendar days, weeks (Monday to Sunday) and months are those of
``settings.TIME_ZONE``; spend over time is grouped by UTC hour (or quarter hour) in the
database and bucketed here (see ``_slotted``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.core.paginator import Paginator
from django.db import models
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    F,
    Func,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDay
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..catalog import Mode, Provider
from ..models import AccountTotals, CreditAccount, CreditEntry, Generation, SpendRollup, User
from ..models.ledger import credits_to_usd, spend_slot

logger = logging.getLogger(__name__)

Kind = CreditEntry.Kind
State = Generation.State

# Newest first; ``id`` breaks ties between entries written in the same microsecond.
NEWEST_FIRST = (F("created_at").desc(), F("id").desc())

# One entry per provider; "v2" since entries hold (usd, credits, error, checked_at).

# Jobs that count as failed in the failure rate; canceled jobs are the member's choice.
FAILED_STATES = (State.FAILED, State.EXPIRED)


class Period(models.TextChoices):
    """How the team report groups spend over time."""

    DAY = "day", _("Day")
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")


# --- Time --------------------------------------------------------------------------------------


def local_today(now: datetime | None = None) -> date:
    """Return today's date in ``settings.TIME_ZONE``."""
    return timezone.localtime(now or timezone.now(), timezone.get_default_timezone()).date()


def local_midnight(day: date) -> datetime:
    """Return the aware start of ``day`` in ``settings.TIME_ZONE``."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` covering the local calendar days ``first`` to ``last``."""
    return local_midnight(first), local_midnight(last + timedelta(days=1))


def month_first_day(day: date) -> date:
    """Return the first day of ``day``'s calendar month."""
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_start(day: date, period: str) -> date:
    """Return the first day of the ``period`` (day, ISO week or month) containing ``day``."""
    if period == Period.MONTH:
        return day.replace(day=1)
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day


def period_starts(first: date, last: date, period: str) -> list[date]:
    """Return the first day of every ``period`` overlapping the days ``first`` to ``last``."""
    starts, current = [], period_start(first, period)
    while current <= last:
        starts.append(current)
        if period == Period.MONTH:
            current = _next_month(current)
        else:
            current += timedelta(days=7 if period == Period.WEEK else 1)
    return starts


class UTCHour(Func):
    """The UTC hour of a datetime as text, ``"YYYY-MM-DD HH"``, from the database's own
    string functions: cheap per row, where Django's ``Trunc*`` on SQLite calls Python for
    every row (5 times slower on a year of spend, see ``benchmarks/reports.py``)."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores aware datetimes on SQLite as UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 13)")

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')",
        )


class ShiftedDate(Func):
    """The date, as text ``"YYYY-MM-DD"``, of a datetime moved from UTC by ``minutes``: the
    local date in a zone whose offset is that many minutes throughout the range."""

    output_field = CharField()

    def __init__(self, expression, *, minutes: int, **extra):
        self.minutes = int(minutes)
        super().__init__(expression, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = f"date(%(expressions)s, '{self.minutes:+d} minutes')"
        return self.as_sql(compiler, connection, template=template)

    def as_postgresql(self, compiler, connection, **extra):
        template = (
            f"to_char((%(expressions)s AT TIME ZONE 'UTC') + interval '{self.minutes:d} minutes', "
            "'YYYY-MM-DD')"
        )
        return self.as_sql(compiler, connection, template=template)


def _offsets(first: date, last: date) -> set[timedelta]:
    """Return the UTC offsets ``settings.TIME_ZONE`` has on the days ``first`` to ``last``
    and the day either side (at noon; offsets change at most once a day)."""
    tz = timezone.get_default_timezone()
    days = (last - first).days + 3
    return {
        tz.utcoffset(datetime.combine(first + timedelta(days=n - 1), time(12))) for n in range(days)
    }


def _whole_hour_offsets(first: date, last: date) -> bool:
    """Tell whether ``settings.TIME_ZONE`` is a whole number of hours from UTC on every day
    from ``first`` to ``last`` (so that every UTC hour falls in one local day)."""
    return not any(offset % timedelta(hours=1) for offset in _offsets(first, last))


def _slotted(rollup: QuerySet, first: date, last: date) -> tuple[QuerySet, Callable]:
    """Annotate ``rollup`` rows with ``bucket``, a time slot to group by that lies in one
    local day, and return them with the function giving a bucket's local date.

    The bucket is the local date itself (``ShiftedDate``) when the zone keeps one offset
    over the range (UTC, zones without daylight saving, ranges between changes); else the
    UTC hour (``UTCHour``) of the row's quarter hour when the offsets are whole hours
    (nearly every zone); else the local day of the quarter hour (``TruncDay``; a quarter
    hour lies in one local day in every zone). A year has at most 366 days and 8,784 hours,
    so the grouping returns few rows whatever the data.
    """
    tz = timezone.get_default_timezone()
    offsets = _offsets(first, last)
    if len(offsets) == 1:
        minutes = next(iter(offsets)) // timedelta(minutes=1)
        return rollup.annotate(bucket=ShiftedDate("slot", minutes=minutes)), date.fromisoformat
    if _whole_hour_offsets(first, last):

        def local_date(slot: str) -> date:
            hour = datetime.fromisoformat(f"{slot}:00").replace(tzinfo=UTC)
            return hour.astimezone(tz).date()

        return rollup.annotate(bucket=UTCHour("slot")), local_date

    def trunc_date(slot: datetime) -> date:
        return timezone.localtime(slot, tz).date()

    return rollup.annotate(bucket=TruncDay("slot", tzinfo=tz)), trunc_date


def _spend_per_period(rollup: QuerySet, *, first: date, last: date, period: str) -> dict[date, int]:
    """Return ``{first day of each period: credits spent}`` for the local days ``first`` to
    ``last``, zeros included, from ``rollup`` rows already limited to that range."""
    totals = dict.fromkeys(period_starts(first, last, period), 0)
    slotted, local_date = _slotted(rollup, first, last)
    for row in slotted.values("bucket").annotate(credits=Sum("captured")):
        totals[period_start(local_date(row["bucket"]), period)] += row["credits"]
    return totals


# --- Ledger expressions ------------------------------------------------------------------------


def balance_effect(prefix: str = "") -> Case:
    """Return the change, in credits, an entry made to its account's available balance.

    ``CreditEntry.EFFECTS`` as SQL: ``amount`` times the kind's balance factor. ``prefix``
    is the relation path to the entry (e.g. ``"entries__"`` from an account).
    """
    return _effect(0, prefix)


def held_effect(prefix: str = "") -> Case:
    """Return the change, in credits, an entry made to its account's reserved credits."""
    return _effect(1, prefix)


def _effect(position: int, prefix: str) -> Case:
    kinds_by_factor: dict[int, list[str]] = defaultdict(list)
    for kind, factors in CreditEntry.EFFECTS.items():
        if factors[position]:
            kinds_by_factor[factors[position]].append(kind)
    amount = F(f"{prefix}amount")
    whens = [
        When(**{f"{prefix}kind__in": kinds}, then=amount if factor == 1 else amount * factor)
        for factor, kinds in sorted(kinds_by_factor.items())
    ]
    return Case(*whens, default=Value(0), output_field=BigIntegerField())


def _spend(start: datetime, end: datetime) -> QuerySet[SpendRollup]:
    """Return the rollup rows with captures in ``[start, end)``, unordered (for grouping).

    ``start`` and ``end`` are local midnights, which fall on quarter hours in every time
    zone, so a row's slot lies wholly inside or outside the range: the sums are exact.
    Rows that only count releases are left out, so no group shows up without spend.
    """
    return SpendRollup.objects.filter(slot__gte=start, slot__lt=end, captures__gt=0).order_by()


def _spent_groups() -> dict:
    """Return the annotations summing a group of rollup rows: captured jobs and credits."""
    return {"jobs": Sum("captures"), "credits": Sum("captured")}


# --- Shapes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpendBucket:
    """Spend in one period starting on ``start`` (a local date), in credits."""

    start: date
    credits: int

    @property
    def usd(self) -> Decimal:
        return credits_to_usd(self.credits)


@dataclass(frozen=True)
class SpendGroup:
    """Spend of one group (a mode, a resolution, ...): captured jobs and credits.

    ``key`` is the value the group stands for when a filter can choose it (a provider's
    name), else empty.
    """

    label: str
    jobs: int
    credits: int
    key: str = ""

    @property
    def usd(self) -> Decimal:
        return credits_to_usd(self.credits)


def _groups(pairs: dict[str, list[int]]) -> list[SpendGroup]:
    """Return groups from ``{label: [jobs, credits]}``, largest spend first."""
    groups = [SpendGroup(label, jobs, credits) for label, (jobs, credits) in pairs.items()]
    return sorted(groups, key=lambda g: (-g.credits, g.label))


# --- A member's usage --------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberUsage:
    """A member's credits now and their recent spend (all figures in credits).

    ``spent_this_month`` equals the sum of each breakdown's credits; ``daily`` has one bucket
    per local day, oldest first, zeros included.
    """

    balance: int
    held: int
    month_start: date
    spent_this_month: int
    jobs_this_month: int
    by_mode: list[SpendGroup]
    by_resolution: list[SpendGroup]
    by_sound: list[SpendGroup]
    daily: list[SpendBucket]

    @property
    def balance_usd(self) -> Decimal:
        return credits_to_usd(self.balance)

    @property
    def held_usd(self) -> Decimal:
        return credits_to_usd(self.held)

    @property
    def spent_this_month_usd(self) -> Decimal:
        return credits_to_usd(self.spent_this_month)

    @property
    def daily_credits(self) -> int:
        return sum(bucket.credits for bucket in self.daily)

    @property
    def daily_usd(self) -> Decimal:
        return credits_to_usd(self.daily_credits)


def member_usage(
    *, user: User, month_start: date, today: date | None = None, days: int = 30
) -> MemberUsage:
    """Return ``user``'s balance, reserved and spent credits, and their spend breakdowns.

    Args:
        user: the member (their own data only).
        month_start: first day of the calendar month whose spend is totalled and broken
            down by mode, resolution and sound (local dates, ``settings.TIME_ZONE``).
        today: the last day of the daily series (default: today, local).
        days: length of the daily series, ending with ``today``.

    Three queries: the account, and the member's ``SpendRollup`` rows of this month grouped
    by mode, resolution and sound, and of the last ``days`` days grouped by local day.
    """
    today = today or local_today()
    account = CreditAccount.objects.filter(user=user).values("balance", "held").first() or {}
    month = (
        _spend(local_midnight(month_start), local_midnight(_next_month(month_start)))
        .filter(user=user)
        .values("mode", "resolution", "sound")
        .annotate(**_spent_groups())
    )
    by_mode, by_resolution, by_sound = defaultdict(_pair), defaultdict(_pair), defaultdict(_pair)
    spent = jobs = 0
    for row in month:
        spent += row["credits"]
        jobs += row["jobs"]
        for groups, label in (
            (by_mode, _mode_label(row["mode"])),
            (by_resolution, row["resolution"] or "-"),
            (by_sound, _sound_label(row["sound"])),
        ):
            groups[label][0] += row["jobs"]
            groups[label][1] += row["credits"]
    first = today - timedelta(days=days - 1)
    start, end = day_range(first, today)
    per_day = _spend_per_period(
        _spend(start, end).filter(user=user),
        first=first,
        last=today,
        period=Period.DAY,
    )
    return MemberUsage(
        balance=account.get("balance", 0),
        held=account.get("held", 0),
        month_start=month_start,
        spent_this_month=spent,
        jobs_this_month=jobs,
        by_mode=_groups(by_mode),
        by_resolution=_groups(by_resolution),
        by_sound=_groups(by_sound),
        daily=[SpendBucket(day, credits) for day, credits in per_day.items()],
    )


def _pair() -> list[int]:
    return [0, 0]


def _mode_label(mode: str | None) -> str:
    return Mode(mode).label if mode in Mode.values else (mode or "-")


def _provider_label(provider: str | None) -> str:
    return Provider(provider).label if provider in Provider.values else (provider or "-")


def _sound_label(sound: bool | None) -> str:
    if sound is None:
        return "-"
    return gettext("Sound on") if sound else gettext("Sound off")


# --- A member's statement ----------------------------------------------------------------------


def _entries_of(user: User) -> QuerySet[CreditEntry]:
    """Return ``user``'s entries, by account id (no join; the account's id is a subquery)."""
    account = CreditAccount.objects.filter(user=user).values("pk")[:1]
    return CreditEntry.objects.filter(account_id=Subquery(account))


def _in_range(
    entries: QuerySet[CreditEntry],
    start: datetime | None,
    end: datetime | None,
    kinds: list[str] | tuple[str, ...] | None,
) -> QuerySet[CreditEntry]:
    """Return ``entries`` in ``[start, end)`` of the chosen ``kinds`` (empty or None: all)."""
    if start is not None:
        entries = entries.filter(created_at__gte=start)
    if end is not None:
        entries = entries.filter(created_at__lt=end)
    kinds = [kind for kind in kinds or () if kind in Kind.values]
    if kinds and set(kinds) != set(Kind.values):
        entries = entries.filter(kind__in=kinds)
    return entries


def statement_rows(
    *,
    user: User,
    start: datetime | None = None,
    end: datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
) -> QuerySet[CreditEntry]:
    """Return ``user``'s ledger entries in ``[start, end)``, newest first, with balances.

    Each entry is annotated with ``actor_name`` (username or None) and, in credits, with
    ``balance_change`` and ``held_change`` (its effect on the account,
    ``CreditEntry.EFFECTS``) and ``running_balance``: the account's available balance right
    after the entry, counting every entry of the account, whatever ``kinds`` shows. ``kinds``
    (a subset of ``CreditEntry.Kind``; empty or None: all) and the date bounds only choose
    the rows shown.

    The running balance is the entry's stored ``balance_after``, written with it under the
    account lock (docs/architecture.md "Stored figures"), so a page costs the same on the
    first and the last page of any history: no window over the account's entries. Pages are
    read with ``StatementPaginator``.
    """
    entries = _in_range(_entries_of(user), start, end, kinds)
    entries = entries.annotate(
        actor_name=F("actor__username"),
        balance_change=balance_effect(),
        held_change=held_effect(),
        running_balance=F("balance_after"),
    )
    return entries.order_by(*NEWEST_FIRST)


class StatementPaginator(Paginator):
    """Pages of ``statement_rows``, as cheap to read at the oldest end as at the newest.

    A page in the older half of the statement is read from the oldest end (the reversed
    order, offset from there, then flipped back), so the first and the last page each read
    one page of the index whatever the history's length; a page in the middle reads at most
    half of it. Page numbers and contents are exactly those of Django's ``Paginator``. Give
    ``count`` (``StatementTotals.entries``) to save the count query.
    """

    def __init__(self, object_list, per_page, *, count: int | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        if count is not None:
            self.count = count  # replaces the cached_property's query

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if bottom > self.count - top:
            rows = list(self.object_list.reverse()[self.count - top : self.count - bottom])
            rows.reverse()
            return self._get_page(rows, number, self)
        return self._get_page(self.object_list[bottom:top], number, self)


@dataclass(frozen=True)
class StatementTotals:
    """Totals of the entries a statement shows, in credits."""

    entries: int = 0
    balance_change: int = 0
    held_change: int = 0
    spent: int = 0

    @property
    def spent_usd(self) -> Decimal:
        return credits_to_usd(self.spent)

    @property
    def balance_change_usd(self) -> Decimal:
        return credits_to_usd(self.balance_change)


def statement_totals(
    *,
    user: User,
    start: datetime | None = None,
    end: datetime | None = None,
    kinds: list[str] | tuple[str, ...] | None = None,
) -> StatementTotals:
    """Return the totals of the entries ``statement_rows`` shows for the same arguments.

    The number of entries, the sums of their effects on the available balance and on
    reserved credits, and the credits captured (spent), all in credits. When ``start`` and
    ``end`` are None or on a quarter hour (local midnights always are), two indexed rows of
    ``AccountTotals`` give them whatever the history's length: the latest row before
    ``end`` minus the latest before ``start`` (docs/architecture.md "Stored figures").
    Other bounds fall back to one aggregate query over the entries in range.
    """
    if not (_on_quarter_hour(start) and _on_quarter_hour(end)):
        return _summed_totals(user=user, start=start, end=end, kinds=kinds)
    chosen = [kind for kind in kinds or () if kind in Kind.values] or Kind.values
    account = CreditAccount.objects.filter(user=user).values("pk")[:1]
    rows = AccountTotals.objects.filter(account_id=Subquery(account))
    names = AccountTotals.field_names()

    def cumulative(before: datetime | None) -> dict[str, int]:
        latest = rows.filter(slot__lt=before) if before is not None else rows
        return latest.order_by("-slot").values(*names).first() or dict.fromkeys(names, 0)

    upto = cumulative(end)
    since = cumulative(start) if start is not None else dict.fromkeys(names, 0)
    entries = balance_change = held_change = spent = 0
    for kind, count, credits in AccountTotals.FIGURES:
        if kind not in chosen:
            continue
        amount = upto[credits] - since[credits]
        on_balance, on_held = CreditEntry.EFFECTS[kind]
        entries += upto[count] - since[count]
        balance_change += on_balance * amount
        held_change += on_held * amount
        if kind == Kind.CAPTURE:
            spent -= amount
    return StatementTotals(entries, balance_change, held_change, spent)


def _on_quarter_hour(moment: datetime | None) -> bool:
    """Tell whether ``moment`` (aware) is None or starts a UTC quarter hour."""
    return moment is None or spend_slot(moment) == moment


def _summed_totals(
    *,
    user: User,
    start: datetime | None,
    end: datetime | None,
    kinds: list[str] | tuple[str, ...] | None,
) -> StatementTotals:
    """Return ``statement_totals`` summed from the entries in range (any bounds): one
    aggregate query over the ``entry_account_created_kind`` index, not the table."""
    entries = _in_range(_entries_of(user), start, end, kinds).order_by()
    zero = {"output_field": BigIntegerField()}
    totals = entries.aggregate(
        entries=Count("id"),
        balance_change=Coalesce(Sum(balance_effect()), 0, **zero),
        held_change=Coalesce(Sum(held_effect()), 0, **zero),
        spent=Coalesce(-Sum("amount", filter=Q(kind=Kind.CAPTURE)), 0, **zero),
    )
    return StatementTotals(**totals)
