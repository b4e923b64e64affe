"""Reads for the team spend report: spend per period, member, provider, mode and resolution.

docs/architecture.md "Users and their jobs": managers see the team's spend per member,
provider, mode, resolution and period (issue #7); spend is captured credits, counted against
the provider that ran the job. docs/architecture.md "Stored figures" and "Performance
targets" (issue #14): every figure comes from stored sums whose size does not grow with the
number of jobs or entries:

- the series and the breakdowns of the whole team: ``SpendDay``, one row per local day and
  catalog combination (a year is a few thousand rows);
- each member's spend: the difference of two ``AccountTotals`` rows per account (the latest
  before the range's end and before its start), two index probes per member;
- with a member or provider filter, ``SpendRollup`` rows of that member or provider;
- jobs by outcome: the jobs that ended in the range, counted with their settlements in the
  same stored rows (captures: succeeded; ``failures``: failed or expired; ``cancels``), for
  the team and, from ``SpendRollup``, for the members a page shows (``members_with_jobs``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Lower

from ..models import AccountTotals, CreditAccount, SpendDay, SpendRollup, User
from ..models.ledger import credits_to_usd
from .reports import (
    Period,
    SpendBucket,
    SpendGroup,
    _mode_label,
    _pair,
    _provider_label,
    _slotted,
    _spend,
    _spend_per_period,
    _spent_groups,
    day_range,
    period_start,
    period_starts,
)


@dataclass(frozen=True)
class MemberSpend:
    """One member's figures in a team report: spend in credits, jobs in the range.

    ``jobs`` (ended in the range), ``succeeded`` and ``failed`` (or expired) are filled by
    ``members_with_jobs`` (the team page reads them for the members it shows);
    ``active_in_range`` tells whether the member held, captured or released credits in it.
    """

    user_id: int
    username: str
    is_active: bool
    balance: int
    held: int
    credits: int = 0
    captures: int = 0
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    active_in_range: bool = False

    @property
    def usd(self) -> Decimal:
        return credits_to_usd(self.credits)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def failure_rate(self) -> Decimal | None:
        """Return failed / (succeeded + failed) as a percentage, or None before any result."""
        return _rate(self.failed, self.finished)

    @property
    def has_activity(self) -> bool:
        return bool(self.credits or self.captures or self.jobs or self.active_in_range)


def _rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class TeamSpend:
    """The team's spend from ``first`` to ``last`` (local days), grouped by ``period``.

    ``credits`` and ``captures`` are the ledger's sums over the range; each breakdown sums
    to them exactly. Jobs (``jobs``, ``succeeded``, ``failed``) are the jobs that ended in
    the range, by outcome: ``succeeded`` were captured, ``failed`` were released as failed or
    expired, and ``jobs`` also counts the canceled ones. Like spend, they are counted when
    their settlement was written (docs/architecture.md "Stored figures").
    ``provider`` is the provider filter (None: every provider).
    """

    first: date
    last: date
    period: str
    credits: int
    captures: int
    buckets: list[SpendBucket]
    members: list[MemberSpend]
    by_mode_resolution: list[SpendGroup]
    by_provider: list[SpendGroup] = field(default_factory=list)
    provider: str | None = None
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    users: list[tuple[int, str]] = field(default_factory=list)

    @property
    def usd(self) -> Decimal:
        return credits_to_usd(self.credits)

    @property
    def failure_rate(self) -> Decimal | None:
        return _rate(self.failed, self.succeeded + self.failed)


def team_spend(
    *,
    first: date,
    last: date,
    period: str,
    user_id: int | None = None,
    provider: str | None = None,
    member_jobs: bool = True,
) -> TeamSpend:
    """Return the team's spend and jobs on the local days ``first`` to ``last``.

    Args:
        first, last: the range, inclusive, as local dates (``settings.TIME_ZONE``).
        period: ``Period`` value grouping the spend series (day, ISO week, month).
        user_id: only this member's figures (the member filter); None for everyone.
        provider: only jobs run by this provider (a ``catalog.Provider`` value, matched
            against ``Generation.provider``); None for every provider.
        member_jobs: also count each member's jobs by outcome (``members_with_jobs`` over
            every member); False leaves them at 0 for ``members_with_jobs`` to fill for the
            members a page shows.

    Six queries at most whatever the team's size or history (see the module's docstring):
    the series, the breakdowns with the jobs by outcome, each member's spend (two for the
    account totals), the members, and with ``member_jobs`` the members' jobs.
    """
    period = Period(period)
    start, end = day_range(first, last)
    if user_id is None:
        days = SpendDay.objects.filter(day__gte=first, day__lte=last).order_by()
        if provider is not None:
            days = days.filter(provider=provider)
        per_period = dict.fromkeys(period_starts(first, last, period), 0)
        for row in days.filter(captures__gt=0).values("day").annotate(credits=Sum("captured")):
            per_period[period_start(row["day"], period)] += row["credits"]
        groups = days.values("provider", "mode", "resolution").annotate(**_outcome_groups())
        if provider is None:
            spend = _member_spend_from_totals(start, end)
        else:
            spend = _member_spend_from_rollup(_rollup(start, end, user_ids=None, provider=provider))
    else:
        rollup = _rollup(start, end, user_ids=[user_id], provider=provider)
        per_period = _spend_per_period(
            rollup.filter(captures__gt=0), first=first, last=last, period=period
        )
        groups = rollup.values("provider", "mode", "resolution").annotate(**_outcome_groups())
        spend = _member_spend_from_rollup(rollup)
    by_mode_resolution: dict[tuple[str, str], list[int]] = defaultdict(_pair)
    by_provider: dict[str, list[int]] = defaultdict(_pair)
    captures = credits = failures = cancels = 0
    for row in groups:
        failures += row["failures"]
        cancels += row["cancels"]
        if not row["jobs"]:
            continue  # releases only: no spend to break down
        captures += row["jobs"]
        credits += row["credits"]
        for breakdown, key in (
            (by_mode_resolution, (row["mode"], row["resolution"])),
            (by_provider, row["provider"]),
        ):
            breakdown[key][0] += row["jobs"]
            breakdown[key][1] += row["credits"]

    members, users = _members(spend, user_id=user_id)
    if member_jobs:
        members = members_with_jobs(members, first=first, last=last, provider=provider)
    return TeamSpend(
        first=first,
        last=last,
        period=period,
        credits=credits,
        captures=captures,
        buckets=[SpendBucket(day, amount) for day, amount in per_period.items()],
        members=members,
        by_mode_resolution=[
            SpendGroup(f"{_mode_label(mode)} · {resolution or '-'}", *pair)
            for (mode, resolution), pair in sorted(
                by_mode_resolution.items(), key=lambda item: (-item[1][1], *item[0])
            )
        ],
        by_provider=sorted(
            (
                SpendGroup(_provider_label(name), *pair, key=name)
                for name, pair in by_provider.items()
            ),
            key=lambda g: (-g.credits, g.label),
        ),
        provider=provider,
        jobs=captures + failures + cancels,
        succeeded=captures,
        failed=failures,
        users=users,
    )


def _rollup(
    start: datetime, end: datetime, *, user_ids: Collection[int] | None, provider: str | None
) -> QuerySet[SpendRollup]:
    """Return ``user_ids``' (None: everyone's) ``SpendRollup`` rows in ``[start, end)``
    (local midnights: on quarter hours, so exact), one provider's only when ``provider`` is
    given; unordered."""
    rows = SpendRollup.objects.filter(slot__gte=start, slot__lt=end)
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    if provider is not None:
        rows = rows.filter(provider=provider)
    return rows.order_by()


def _outcome_groups() -> dict:
    """Return the annotations summing a group of rollup rows: captured jobs and credits,
    and the jobs that ended failed (or expired) and canceled."""
    return {**_spent_groups(), "failures": Sum("failures"), "cancels": Sum("cancels")}


# Each member's spend: {user id: (captures, captured credits, active in the range)}.
MemberFigures = dict[int, tuple[int, int, bool]]


def _member_spend_from_totals(start: datetime, end: datetime) -> MemberFigures:
    """Return every member's captures and captured credits in ``[start, end)`` as the
    difference of two ``AccountTotals`` rows per account (docs/architecture.md "Stored
    figures"): two queries, two index probes per account, whatever the history's length.

    ``start`` and ``end`` are local midnights, on a quarter hour in every time zone, so the
    differences are exact. A member is active in the range when any entry of theirs (a
    hold, capture or release) falls in it.
    """
    latest = AccountTotals.objects.filter(account_id=OuterRef("pk")).order_by("-slot")
    bounds = CreditAccount.objects.annotate(
        upto=Subquery(latest.filter(slot__lt=end).values("pk")[:1]),
        since=Subquery(latest.filter(slot__lt=start).values("pk")[:1]),
    ).values_list("user_id", "upto", "since")
    pairs = [(user_id, upto, since) for user_id, upto, since in bounds if upto is not None]
    figures = ("hold_count", "capture_count", "capture_credits", "release_count")
    rows = {
        pk: values
        for pk, *values in AccountTotals.objects.filter(
            pk__in=[pk for _, upto, since in pairs for pk in (upto, since) if pk is not None]
        ).values_list("pk", *figures)
    }
    zero = (0, 0, 0, 0)
    spend: MemberFigures = {}
    for user_id, upto, since in pairs:
        holds, captures, captured, releases = (
            a - b for a, b in zip(rows[upto], rows.get(since, zero), strict=True)
        )
        if holds or captures or releases:
            spend[user_id] = (captures, -captured, True)
    return spend


def _member_spend_from_rollup(rows: QuerySet) -> MemberFigures:
    """Return each member's captures and captured credits summed from ``SpendRollup``
    ``rows`` (already limited to the range and filters); a member with releases only (jobs
    that failed or were canceled) is active in the range too, with no spend."""
    return {
        row["user_id"]: (row["jobs"], row["credits"], True)
        for row in rows.values("user_id").annotate(**_spent_groups())
    }


def _members(spend: MemberFigures, *, user_id: int | None) -> tuple[list, list]:
    """Return the report's members, biggest spenders first (then by name), and the member
    filter's choices ``(id, username)``: active members and anyone active in the range."""
    people = User.objects.order_by(Lower("username")).values_list(
        "pk",
        "username",
        "is_active",
        "credit_account__balance",
        "credit_account__held",
    )
    members, users = [], []
    for pk, username, is_active, balance, held in people:
        captures, credits, active = spend.get(pk, (0, 0, False))
        if is_active or active:
            users.append((pk, username))
        if user_id is not None and pk != user_id:
            continue
        if is_active or active or credits:
            members.append(
                MemberSpend(
                    user_id=pk,
                    username=username,
                    is_active=is_active,
                    balance=balance or 0,
                    held=held or 0,
                    credits=credits,
                    captures=captures,
                    active_in_range=active,
                )
            )
    members.sort(key=lambda m: (-m.credits, m.username.lower()))
    return members, users


def members_with_jobs(
    members: Collection[MemberSpend],
    *,
    first: date,
    last: date,
    provider: str | None = None,
) -> list[MemberSpend]:
    """Return ``members`` with the jobs they ended on the local days ``first`` to ``last``
    by outcome (``jobs``, ``succeeded``, ``failed``; see ``TeamSpend``), optionally one
    provider's only.

    One query over those members' ``SpendRollup`` rows in the range (the
    ``spend_rollup_user_slot`` index), so a page of 50 members reads their rows only.
    """
    start, end = day_range(first, last)
    rows = (
        _rollup(start, end, user_ids=[m.user_id for m in members], provider=provider)
        .values("user_id")
        .annotate(**_outcome_groups())
    )
    outcomes = {row["user_id"]: row for row in rows}
    return [
        replace(
            member,
            jobs=row["jobs"] + row["failures"] + row["cancels"],
            succeeded=row["jobs"],
            failed=row["failures"],
        )
        if (row := outcomes.get(member.user_id))
        else member
        for member in members
    ]


@dataclass(frozen=True)
class SpendRow:
    """One row of the team report's export: a member's spend with one provider on one mode,
    resolution and sound in the period starting on ``period_start`` (local date); credits."""

    period_start: date
    username: str
    provider: str
    mode: str
    resolution: str
    sound: bool | None
    jobs: int
    credits: int

    @property
    def usd(self) -> Decimal:
        return credits_to_usd(self.credits)


def team_spend_rows(
    *,
    first: date,
    last: date,
    period: str,
    user_id: int | None = None,
    provider: str | None = None,
    chunk_size: int = 2000,
) -> Iterator[SpendRow]:
    """Yield the team report's finest rows, for the CSV export: by period, then member,
    provider, mode, resolution and sound.

    Their sums equal ``team_spend``'s ``captures`` and ``credits`` for the same arguments
    (``user_id`` and ``provider`` filter as there). One query over ``SpendRollup``, read
    with ``.iterator(chunk_size=...)`` in time order; only the groups of the period being
    read are held in memory, so any range streams in bounded memory.
    """
    period = Period(period)
    start, end = day_range(first, last)
    spent = _spend(start, end)
    if user_id is not None:
        spent = spent.filter(user_id=user_id)
    if provider is not None:
        spent = spent.filter(provider=provider)
    slotted, local_date = _slotted(spent, first, last)
    fields = ("user__username", "provider", "mode", "resolution")
    rows = slotted.values("bucket", *fields, "sound").annotate(**_spent_groups()).order_by("bucket")
    current: date | None = None
    groups: dict[tuple, list[int]] = defaultdict(_pair)
    for row in rows.iterator(chunk_size=chunk_size):
        bucket = period_start(local_date(row["bucket"]), period)
        if bucket != current:
            yield from _spend_rows(current, groups)
            current, groups = bucket, defaultdict(_pair)
        key = (*(row[name] or "" for name in fields), row["sound"])
        groups[key][0] += row["jobs"]
        groups[key][1] += row["credits"]
    yield from _spend_rows(current, groups)


def _spend_rows(bucket: date | None, groups: dict[tuple, list[int]]) -> Iterator[SpendRow]:
    """Yield one period's groups as rows, by member, provider, mode, resolution and sound."""
    for (username, provider, mode, resolution, sound), (jobs, credits) in sorted(
        groups.items(), key=lambda item: (*item[0][:4], item[0][4] is None, item[0][4])
    ):
        yield SpendRow(bucket, username, provider, mode, resolution, sound, jobs, credits)
