"""Reads over the ledger: recomputing accounts from their entries."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    RowRange,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce

from ..models import (
    AccountTotals,
    CreditAccount,
    CreditEntry,
    Generation,
    SpendDay,
    SpendRollup,
)
from ..models.ledger import CANCEL_OUTCOME, FAILURE_OUTCOMES, spend_day, spend_slot

Kind = CreditEntry.Kind


def _effect_sum(position: int, prefix: str = "") -> Sum:
    """Sum of ``amount`` times the kind's factor at ``position`` (0: balance, 1: held).

    ``prefix`` is the relation path to the entries ("entries__" from an account).
    """
    whens = [
        When(**{f"{prefix}kind": kind}, then=F(f"{prefix}amount") * factors[position])
        for kind, factors in CreditEntry.EFFECTS.items()
        if factors[position]
    ]
    return Sum(Case(*whens, default=0, output_field=IntegerField()))


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between stored figures and the entries that should explain them."""

    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}"


def ledger_mismatches() -> list[Mismatch]:
    """Recompute every account from its entries and report each disagreement.

    Checks (docs/architecture.md "Money" and "What must hold"):
    - ``balance`` and ``held`` of every account equal the sums of their entries' effects;
    - every capture or release settles exactly the amount of its hold;
    - a generation in a final state has no unsettled hold; one in flight has exactly one
      unsettled hold (earlier ones were released by failover) and no capture. A job in
      flight without a hold is a mismatch: ``generation_create`` writes the job and its hold
      in one transaction, so such a job is being worked on for free;
    - a succeeded job has exactly one capture, of its latest hold; a failed, canceled or
      expired job has none; a capture or release is on the account and the job of its hold.

    The work is a constant number of aggregate queries whatever the number of entries.
    The stored figures are checked by ``figure_mismatches``, called at the end.
    """
    problems: list[Mismatch] = []
    accounts = CreditAccount.objects.annotate(
        entries_balance=Coalesce(_effect_sum(0, "entries__"), 0),
        entries_held=Coalesce(_effect_sum(1, "entries__"), 0),
    ).select_related("user")
    for account in accounts.iterator(chunk_size=2000):
        if (account.balance, account.held) != (account.entries_balance, account.entries_held):
            problems.append(
                Mismatch(
                    f"account of {account.user.username}",
                    f"stored balance={account.balance} held={account.held}, entries give "
                    f"balance={account.entries_balance} held={account.entries_held}",
                )
            )
    bad_settlements = (
        CreditEntry.objects.filter(kind__in=[Kind.CAPTURE, Kind.RELEASE])
        .exclude(
            Q(kind=Kind.CAPTURE, amount=F("hold__amount"))
            | Q(kind=Kind.RELEASE, amount=-F("hold__amount"))
        )
        .values_list("pk", "kind", "amount", "hold__amount")
    )
    for pk, kind, amount, hold_amount in bad_settlements:
        problems.append(
            Mismatch(f"entry {pk}", f"{kind} of {amount} settles a hold of {hold_amount}")
        )
    final_unsettled = Generation.objects.filter(
        state__in=Generation.State.final(),
        credit_entries__kind=Kind.HOLD,
        credit_entries__settlements__isnull=True,
    ).values_list("pk", "state")
    for pk, state in final_unsettled:
        problems.append(Mismatch(f"generation {pk}", f"is {state} but its hold is not settled"))
    # In flight: exactly one open hold (failover releases the first provider's hold and
    # holds the second's price in one transaction) and nothing captured yet.
    open_holds = CreditEntry.objects.filter(generation=OuterRef("pk"), kind=Kind.HOLD).exclude(
        settlements__isnull=False
    )
    flying_wrong = (
        Generation.objects.filter(state__in=Generation.State.in_flight())
        .annotate(open_holds=Coalesce(Subquery(_count(open_holds)), 0))
        .filter(~Q(open_holds=1) | Q(credit_entries__kind=Kind.CAPTURE))
        .values_list("pk", "state", "open_holds")
        .distinct()
    )
    for pk, state, count in flying_wrong:
        problems.append(
            Mismatch(f"generation {pk}", f"is {state} but has {count} open holds or a capture")
        )
    problems.extend(_settlement_kind_mismatches())
    problems.extend(figure_mismatches())  # stored figures: see figure_mismatches
    return problems


def _settlement_kind_mismatches() -> list[Mismatch]:
    """Tie each final state to how its money ended, and each settlement to its hold.

    docs/architecture.md "Two-phase charging": a succeeded job was paid for (exactly one
    capture, of its latest hold); a failed, canceled or expired job was not (no capture at
    all: "finished after expiry" is recorded, never charged). A settlement is written on the
    account and for the generation of the hold it settles.
    """
    problems: list[Mismatch] = []
    captures = CreditEntry.objects.filter(generation=OuterRef("pk"), kind=Kind.CAPTURE)
    succeeded_unpaid = (
        Generation.objects.filter(state=Generation.State.SUCCEEDED)
        .annotate(captures=Coalesce(Subquery(_count(captures)), 0))
        .exclude(captures=1)
        .values_list("pk", "captures")
    )
    for pk, count in succeeded_unpaid:
        problems.append(Mismatch(f"generation {pk}", f"succeeded with {count} captures, not 1"))
    unsuccessful_paid = (
        Generation.objects.filter(
            state__in=set(Generation.State.final()) - {Generation.State.SUCCEEDED},
            credit_entries__kind=Kind.CAPTURE,
        )
        .values_list("pk", "state")
        .distinct()
    )
    for pk, state in unsuccessful_paid:
        problems.append(Mismatch(f"generation {pk}", f"is {state} but was captured"))
    latest_hold = (
        CreditEntry.objects.filter(generation=OuterRef("generation"), kind=Kind.HOLD)
        .order_by("-pk")
        .values("pk")[:1]
    )
    capture_of_old_hold = (
        CreditEntry.objects.filter(kind=Kind.CAPTURE)
        .exclude(hold_id=Subquery(latest_hold))
        .values_list("pk", "generation_id")
    )
    for pk, generation_id in capture_of_old_hold:
        problems.append(
            Mismatch(
                f"entry {pk}", f"captures a hold that is not generation {generation_id}'s last"
            )
        )
    crossed = (
        CreditEntry.objects.filter(kind__in=[Kind.CAPTURE, Kind.RELEASE])
        .exclude(account_id=F("hold__account_id"), generation_id=F("hold__generation_id"))
        .values_list("pk", "kind", "hold_id")
    )
    for pk, kind, hold_pk in crossed:
        problems.append(
            Mismatch(f"entry {pk}", f"{kind} is not on the account and job of hold {hold_pk}")
        )
    return problems


def _count(entries):
    """Return a subquery counting ``entries`` (correlated on one generation)."""
    return entries.values("generation").annotate(count=Count("pk")).values("count")


# --- Stored figures (docs/architecture.md "Stored figures") -----------------------------------


def figure_mismatches() -> list[Mismatch]:
    """Return the disagreements of the ledger's stored figures with the entries.

    ``balance_after_mismatches``, ``rollup_mismatches`` and ``account_totals_mismatches``;
    ``ledger_mismatches`` reports them with its own checks.
    """
    return [*balance_after_mismatches(), *rollup_mismatches(), *account_totals_mismatches()]


def balance_after_mismatches() -> list[Mismatch]:
    """Report each entry whose ``balance_after`` is not the running sum of its account's
    balance effects in id order (the order entries are written under the account lock).

    One query: a window sum per account, filtered on its result (Django's QUALIFY).
    """
    running = Window(
        _effect_sum(0),
        partition_by=[F("account_id")],
        order_by=F("id").asc(),
        frame=RowRange(start=None, end=0),
    )
    # A missing figure compares as a value no running sum takes.
    stored = Coalesce(F("balance_after"), Value(-(2**62)), output_field=BigIntegerField())
    wrong = (
        CreditEntry.objects.annotate(running=running, stored=stored)
        .filter(~Q(running=F("stored")))
        .order_by("id")
        .values_list("pk", "balance_after", "running")
    )
    return [
        Mismatch(f"entry {pk}", f"stored balance_after={stored}, entries give {running}")
        for pk, stored, running in wrong
    ]


def _rollup_key(slot, user_id, provider, mode, resolution, sound) -> tuple:
    return (slot, user_id, provider or "", mode or "", resolution or "", bool(sound))


# A settlement group's figures, in this order (``SpendRollup`` and ``SpendDay`` columns).
GROUP_FIGURES = ("captures", "captured", "releases", "released", "failures", "cancels")


def release_outcome_expression() -> Case:
    """Return, per entry, the outcome its release ended its job with, as the ledger shows
    it now: the generation's state when the entry releases the generation's latest hold
    (a failover released an earlier one and held again), else "". ``services.ledger``
    counts the same outcome when it writes the release (docs/architecture.md "Stored
    figures")."""
    latest_hold = (
        CreditEntry.objects.filter(generation=OuterRef("generation"), kind=Kind.HOLD)
        .order_by("-pk")
        .values("pk")[:1]
    )
    return Case(
        When(kind=Kind.RELEASE, hold_id=Subquery(latest_hold), then=F("generation__state")),
        default=Value(""),
        output_field=CharField(),
    )


def settlement_groups() -> tuple[dict[tuple, list[int]], dict[tuple, list[int]]]:
    """Return the ledger's captures and releases grouped as ``SpendRollup`` rows (quarter
    hour, member, provider, mode, resolution, sound) and as ``SpendDay`` rows (local day,
    provider, mode, resolution, sound): ``GROUP_FIGURES`` per group (counts and credits).
    Reads every capture and release once, streamed.
    """

    def empty() -> list[int]:
        return [0] * len(GROUP_FIGURES)

    rollup: dict[tuple, list[int]] = defaultdict(empty)
    days: dict[tuple, list[int]] = defaultdict(empty)
    settlements = (
        CreditEntry.objects.filter(kind__in=[Kind.CAPTURE, Kind.RELEASE])
        .annotate(outcome=release_outcome_expression())
        .order_by()
        .values_list(
            "created_at",
            "account__user_id",
            "generation__provider",
            "generation__mode",
            "generation__resolution",
            "generation__sound",
            "kind",
            "amount",
            "outcome",
        )
    )
    rows = settlements.iterator(chunk_size=5000)
    for created_at, user_id, *dimensions, kind, amount, outcome in rows:
        key = _rollup_key(spend_slot(created_at), user_id, *dimensions)
        for counts in (rollup[key], days[(spend_day(created_at), *key[2:])]):
            if kind == Kind.CAPTURE:
                counts[0] += 1
                counts[1] -= amount
            else:
                counts[2] += 1
                counts[3] += amount
                counts[4] += outcome in FAILURE_OUTCOMES
                counts[5] += outcome == CANCEL_OUTCOME
    return rollup, days


def rollup_mismatches() -> list[Mismatch]:
    """Report each ``SpendRollup`` group (quarter hour, member, provider, mode, resolution,
    sound) and each ``SpendDay`` group (local day, provider, mode, resolution, sound) whose
    figures (``GROUP_FIGURES``) differ from the ledger's captures and releases grouped the
    same way, including groups only one side has.

    Reads every capture and release once (streamed), and every rollup row.
    """
    ledger, ledger_days = settlement_groups()
    zero = [0] * len(GROUP_FIGURES)
    stored: dict[tuple, list[int]] = {}
    fields = ("slot", "user_id", "provider", "mode", "resolution", "sound")
    for row in SpendRollup.objects.values_list(*fields, *GROUP_FIGURES).iterator(chunk_size=5000):
        stored[_rollup_key(*row[:6])] = list(row[6:])
    problems = []
    for key in sorted(set(ledger) | set(stored), key=lambda k: (k[0], *map(str, k[1:]))):
        have, want = stored.get(key, zero), ledger.get(key, zero)
        if have != want:
            slot, user_id, provider, mode, resolution, sound = key
            problems.append(
                Mismatch(
                    f"spend rollup {slot:%Y-%m-%d %H:%M} UTC, user {user_id}, "
                    f"{provider}/{mode}/{resolution}/sound {'on' if sound else 'off'}",
                    _counts_text(have, want),
                )
            )
    stored_days = {
        (day, *_rollup_key(None, None, *dimensions)[2:]): list(figures)
        for day, *dimensions, figures in (
            (row[0], *row[1:5], row[5:])
            for row in SpendDay.objects.values_list("day", *fields[2:], *GROUP_FIGURES)
        )
    }
    for key in sorted(set(ledger_days) | set(stored_days), key=lambda k: tuple(map(str, k))):
        have, want = stored_days.get(key, zero), ledger_days.get(key, zero)
        if have != want:
            day, provider, mode, resolution, sound = key
            problems.append(
                Mismatch(
                    f"team spend day {day:%Y-%m-%d}, "
                    f"{provider}/{mode}/{resolution}/sound {'on' if sound else 'off'}",
                    _counts_text(have, want),
                )
            )
    return problems


def _counts_text(have: list[int], want: list[int]) -> str:
    stored = ", ".join(f"{name}={value}" for name, value in zip(GROUP_FIGURES, have, strict=True))
    ledger = ", ".join(f"{name}={value}" for name, value in zip(GROUP_FIGURES, want, strict=True))
    return f"stored {stored}; ledger gives {ledger}"


def _totals_from_entries() -> Iterator[tuple[tuple, tuple]]:
    """Yield ``((account id, slot), cumulative figures)`` recomputed from the entries, for
    every account and quarter hour with entries, in (account, slot) order.

    The figures are ``AccountTotals.field_names()``'s values. One streamed read of the
    ``entry_account_created_kind`` index; memory holds one account's running totals.
    """
    position = {kind: 2 * n for n, (kind, _, _) in enumerate(AccountTotals.FIGURES)}
    entries = (
        CreditEntry.objects.order_by("account_id", "created_at")
        .values_list("account_id", "created_at", "kind", "amount")
        .iterator(chunk_size=5000)
    )
    current, running = None, [0] * len(position) * 2
    for account_id, created_at, kind, amount in entries:
        key = (account_id, spend_slot(created_at))
        if current is not None and key != current:
            yield current, tuple(running)
            if key[0] != current[0]:
                running = [0] * len(running)
        current = key
        running[position[kind]] += 1
        running[position[kind] + 1] += amount
    if current is not None:
        yield current, tuple(running)


def account_totals_mismatches() -> list[Mismatch]:
    """Report each ``AccountTotals`` row whose cumulative counts and credits per kind differ
    from the account's entries up to the end of its quarter hour, and each account and
    quarter hour with entries but no row (or a row but no entries).

    Merges two streams in (account, slot) order, so memory stays bounded whatever the
    ledger's size (docs/architecture.md "Stored figures").
    """
    names = AccountTotals.field_names()
    stored = (
        ((account_id, slot), tuple(figures))
        for account_id, slot, *figures in AccountTotals.objects.order_by("account_id", "slot")
        .values_list("account_id", "slot", *names)
        .iterator(chunk_size=5000)
    )
    problems: list[Mismatch] = []
    end = (float("inf"), None)
    expected = _totals_from_entries()
    want_key, want = next(expected, (end, None))
    have_key, have = next(stored, (end, None))
    while want_key != end or have_key != end:
        subject_key = min(want_key, have_key, key=_merge_order)
        if want_key == have_key:
            if have != want:
                problems.append(_totals_mismatch(subject_key, have, want))
            want_key, want = next(expected, (end, None))
            have_key, have = next(stored, (end, None))
        elif subject_key == want_key:
            problems.append(_totals_mismatch(want_key, None, want))
            want_key, want = next(expected, (end, None))
        else:
            problems.append(_totals_mismatch(have_key, have, None))
            have_key, have = next(stored, (end, None))
    return problems


def _merge_order(key: tuple) -> tuple:
    account_id, slot = key
    return (account_id, slot.timestamp() if slot is not None else 0.0)


def _totals_mismatch(key: tuple, have: tuple | None, want: tuple | None) -> Mismatch:
    account_id, slot = key
    names = AccountTotals.field_names()

    def shown(figures: tuple | None) -> str:
        if figures is None:
            return "no row"
        return ", ".join(f"{name}={value}" for name, value in zip(names, figures, strict=True))

    return Mismatch(
        f"account totals of account {account_id} to {slot:%Y-%m-%d %H:%M} UTC",
        f"stored {shown(have)}; entries give {shown(want)}",
    )
