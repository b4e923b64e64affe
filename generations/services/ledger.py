"""Ledger services: the only code that moves credits.

Every function writes one append-only ``CreditEntry`` and changes the account's ``balance``
and ``held`` in the same transaction, on the account row locked with ``SELECT ... FOR
UPDATE`` (docs/architecture.md "Money"; docs/style.md practice 2). Amounts are whole
credits (1 credit = US$0.001).

Idempotency: each entry carries a unique ``idempotency_key``. Calling a service again with a
key already used for the same account, kind and amount returns the existing entry and moves
nothing; the same key with different terms raises ``IdempotencyConflict``.

Notices: a move that may take a member's balance across their low-balance threshold queues
the ``check_low_balance`` task once the transaction commits; the task sends the e-mail
(``services.notifications``). This module never imports notification or mail code: money
moves must not wait on, or fail with, an SMTP server (issue #12 item 13).
"""

import uuid
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from ..i18n import credits_text
from ..models import (
    AccountTotals,
    CreditAccount,
    CreditEntry,
    Generation,
    SpendDay,
    SpendRollup,
    User,
)
from ..models.ledger import CANCEL_OUTCOME, FAILURE_OUTCOMES, spend_day, spend_slot
from ..queue import enqueue

Kind = CreditEntry.Kind


class LedgerError(Exception):
    """Base class of the ledger's domain errors."""


class InsufficientCredits(LedgerError):
    """Raised when an account's available balance does not cover an amount.

    Attributes:
        needed: credits the operation needs.
        available: credits available when it was refused.
    """

    def __init__(self, *, needed: int, available: int):
        self.needed = needed
        self.available = available
        super().__init__(
            ngettext(
                "This needs %(needed)s but only %(available)s is available.",
                "This needs %(needed)s but only %(available)s are available.",
                available,
            )
            % {
                "needed": credits_text(needed),
                "available": number_format(available, force_grouping=True),
            }
        )


class MonthlyCapExceeded(LedgerError):
    """Raised when a hold would take a member's spending this month over their cap.

    Attributes (credits): ``cap``; ``used``, captured this month plus reserved now;
    ``needed``, the hold asked for.
    """

    def __init__(self, *, cap: int, used: int, needed: int):
        self.cap, self.used, self.needed = cap, used, needed
        left = max(cap - used, 0)
        super().__init__(
            gettext(
                "This needs %(needed)s but your monthly cap of %(cap)s leaves %(left)s this "
                "month. Ask a manager to raise it."
            )
            % {
                "needed": credits_text(needed),
                "cap": credits_text(cap),
                "left": number_format(left, force_grouping=True),
            }
        )


class IdempotencyConflict(LedgerError):
    """Raised when an idempotency key was already used for a different entry."""


class HoldAlreadySettled(LedgerError):
    """Raised when a job is being finalized but its hold was already captured or released.

    A job in flight has exactly one open hold (docs/architecture.md "Two-phase charging"), so
    this means the ledger and the job disagree: finalizing anyway would let a job succeed
    without being paid for (or be refunded twice). The caller's transaction rolls back and the
    job stays as it was, for ``ledger_check`` and a manager to look at.
    """


def locked_account(user_id: int) -> CreditAccount:
    """Return the user's account locked for update (created empty if missing).

    Call inside a transaction; every change of the account's balance happens under this
    lock (docs/architecture.md "Two-phase charging"), so holding it also serialises other
    work of the same member against their holds (``bulk_actions.generations_again``).
    """
    CreditAccount.objects.get_or_create(user_id=user_id)
    return CreditAccount.objects.select_for_update().get(user_id=user_id)


def _replay(key: str, *, account: CreditAccount, kind: str, amount: int) -> CreditEntry | None:
    """Return the entry already written under ``key``, or None when the key is new."""
    entry = CreditEntry.objects.filter(idempotency_key=key).first()
    if entry is None:
        return None
    if (entry.account_id, entry.kind, entry.amount) != (account.pk, kind, amount):
        raise IdempotencyConflict(f"Idempotency key {key!r} was used for another entry.")
    return entry


def _apply(
    account: CreditAccount,
    *,
    kind: str,
    amount: int,
    key: str,
    actor: User | None = None,
    memo: str = "",
    generation: Generation | None = None,
    hold: CreditEntry | None = None,
) -> CreditEntry:
    """Write one entry and apply its effect to the locked ``account``.

    The entry stores ``balance_after``, the account's available balance right after it:
    written here, once, under the account lock, so it is the running sum of the account's
    entries in the order they were written; and it is added to the account's
    ``AccountTotals`` (docs/architecture.md "Stored figures").

    Raises:
        InsufficientCredits: the entry would make ``balance`` negative.
    """
    balance_factor, held_factor = CreditEntry.EFFECTS[kind]
    new_balance = account.balance + balance_factor * amount
    new_held = account.held + held_factor * amount
    if new_balance < 0:
        raise InsufficientCredits(needed=-balance_factor * amount, available=account.balance)
    entry = CreditEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        idempotency_key=key,
        actor=actor,
        memo=memo[:255],
        generation=generation,
        hold=hold,
        balance_after=new_balance,
    )
    account.balance, account.held = new_balance, new_held
    account.save(update_fields=["balance", "held", "updated_at"])
    _add_to_totals(entry)
    return entry


def _add_to_totals(entry: CreditEntry) -> None:
    """Count ``entry`` in its account's cumulative ``AccountTotals``, in its transaction.

    The caller holds the account lock, so no other writer touches the account's rows. The
    row of the entry's quarter hour gets the entry (created from the latest earlier row when
    it is the quarter hour's first entry), and so does every later row: none in the usual
    case, where entries are written in time order; an entry dated earlier (a clock step
    back) keeps every later row exact (docs/architecture.md "Stored figures").
    """
    slot = spend_slot(entry.created_at)
    count, credits = f"{entry.kind}_count", f"{entry.kind}_credits"
    increments = {count: F(count) + 1, credits: F(credits) + entry.amount}
    rows = AccountTotals.objects.filter(account_id=entry.account_id)
    if not rows.filter(slot=slot).update(**increments):
        names = AccountTotals.field_names()
        before = rows.filter(slot__lt=slot).order_by("-slot").values(*names).first()
        figures = before or dict.fromkeys(names, 0)
        figures[count] += 1
        figures[credits] += entry.amount
        AccountTotals.objects.create(account_id=entry.account_id, slot=slot, **figures)
    rows.filter(slot__gt=slot).update(**increments)


def _positive(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive whole number of credits, got {amount!r}")
    return amount


def _move(
    *, user: User, kind: str, amount: int, key: str | None, check=None, **fields
) -> CreditEntry:
    """Write one entry on the locked account; ``check(account)`` may refuse it first."""
    key = key or f"{kind}:{uuid.uuid4().hex}"
    with transaction.atomic():
        account = locked_account(user.pk)
        existing = _replay(key, account=account, kind=kind, amount=amount)
        if existing is not None:
            return existing
        if check is not None:
            check(account)
        before = account.balance
        entry = _apply(account, kind=kind, amount=amount, key=key, **fields)
        if _threshold_crossing(user.pk, before=before, after=account.balance):
            # After commit, so no notice goes out for a change that was rolled back.
            transaction.on_commit(lambda: _enqueue_low_balance_check(user.pk))
    return entry


def _threshold_crossing(user_id: int, *, before: int, after: int) -> bool:
    """Tell whether a balance change from ``before`` to ``after`` credits needs a notice check.

    True when the balance ends under the member's ``low_balance_threshold`` without a notice
    sent yet, or ends at or over it with the notice flag still set (to clear it). One small
    read; a capture (balance unchanged) costs nothing.
    """
    if before == after:
        return False
    row = User.objects.filter(pk=user_id).values_list(
        "low_balance_threshold", "low_balance_notified"
    )
    threshold, notified = row.first() or (None, False)
    if threshold is None:
        return False
    return (after < threshold) != notified


def _enqueue_low_balance_check(user_id: int) -> None:
    enqueue("check_low_balance", user_id, group="notify", name=f"low-balance-{user_id}")


def month_start(now: datetime | None = None) -> datetime:
    """Return the start of the current calendar month in ``TIME_ZONE`` (aware datetime)."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_spend(*, account: CreditAccount, since: datetime) -> int:
    """Return the credits captured from ``account`` since ``since`` (spend, >= 0)."""
    captured = CreditEntry.objects.filter(
        account=account, kind=Kind.CAPTURE, created_at__gte=since
    ).aggregate(total=Sum("amount"))["total"]
    return -(captured or 0)


def month_used(*, account: CreditAccount, now: datetime | None = None) -> int:
    """Return the credits counting against the monthly cap: captured this month plus held now.

    docs/architecture.md "Money" (issue #6 monthly caps): a member's cap covers what was
    captured since ``month_start`` and what is reserved for jobs in flight. ``account`` as
    read by the caller (locked by a hold's check, plain by a page).
    """
    return month_spend(account=account, since=month_start(now)) + account.held


def _monthly_cap_check(user: User, amount: int):
    """Return a check refusing a hold that would take the month over ``user``'s cap.

    Runs on the locked account row, so parallel holds of one member are serialised and
    can never pass the cap together (issue #6 "Monthly caps").
    """

    def check(account: CreditAccount) -> None:
        cap = User.objects.values_list("monthly_cap_credits", flat=True).get(pk=user.pk)
        if cap is None:
            return
        used = month_used(account=account)
        if used + amount > cap:
            raise MonthlyCapExceeded(cap=cap, used=used, needed=amount)

    return check


def credits_grant(
    *,
    user: User,
    amount: int,
    actor: User | None,
    memo: str = "",
    idempotency_key: str | None = None,
) -> CreditEntry:
    """Add ``amount`` credits (> 0) to ``user``'s available balance.

    Raises:
        ValueError: ``amount`` is not a positive integer.
        IdempotencyConflict: the key was used for a different entry.
    """
    return _move(
        user=user,
        kind=Kind.GRANT,
        amount=_positive(amount),
        key=idempotency_key,
        actor=actor,
        memo=memo,
    )


def credits_revoke(
    *,
    user: User,
    amount: int,
    actor: User | None,
    memo: str = "",
    idempotency_key: str | None = None,
) -> CreditEntry:
    """Take back ``amount`` unused credits (> 0) from ``user``'s available balance.

    Reserved credits cannot be revoked: they belong to jobs in flight.

    Raises:
        ValueError: ``amount`` is not a positive integer.
        InsufficientCredits: fewer than ``amount`` credits are available.
        IdempotencyConflict: the key was used for a different entry.
    """
    return _move(
        user=user,
        kind=Kind.REVOKE,
        amount=-_positive(amount),
        key=idempotency_key,
        actor=actor,
        memo=memo,
    )


def credits_adjust(
    *,
    user: User,
    amount: int,
    actor: User | None,
    memo: str,
    idempotency_key: str | None = None,
) -> CreditEntry:
    """Correct ``user``'s available balance by a signed, non-zero ``amount`` of credits.

    Corrections never edit entries; they are entries themselves (docs/architecture.md "Money").

    Raises:
        ValueError: ``amount`` is zero or not an integer, or ``memo`` is empty.
        InsufficientCredits: a negative correction exceeds the available balance.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise ValueError(f"amount must be a non-zero whole number of credits, got {amount!r}")
    if not memo.strip():
        raise ValueError(gettext("An adjustment needs a memo saying why."))
    return _move(
        user=user, kind=Kind.ADJUST, amount=amount, key=idempotency_key, actor=actor, memo=memo
    )


def credits_hold(
    *,
    user: User,
    amount: int,
    generation: Generation,
    actor: User | None = None,
    memo: str = "",
    idempotency_key: str | None = None,
) -> CreditEntry:
    """Reserve ``amount`` credits (> 0) of ``user``'s balance for ``generation``.

    One hold per generation and key: the default key is ``hold:generation:<id>``, so a
    repeated call returns the first hold. Call it inside the transaction that creates the
    generation, so a refused hold leaves no generation behind. A failover, which releases
    the first hold and holds the other provider's price, passes its own key.

    Raises:
        InsufficientCredits: the available balance is short; nothing is written.
        MonthlyCapExceeded: captured this month + held + ``amount`` would pass the
            member's ``monthly_cap_credits``; nothing is written.
    """
    amount = _positive(amount)
    return _move(
        user=user,
        kind=Kind.HOLD,
        check=_monthly_cap_check(user, amount),
        amount=-amount,
        key=idempotency_key or f"hold:generation:{generation.pk}",
        actor=actor,
        memo=memo or f"Generation #{generation.pk}",
        generation=generation,
    )


def _settle(
    hold: CreditEntry, *, kind: str, actor: User | None, memo: str, outcome: str = ""
) -> CreditEntry | None:
    """Capture or release ``hold`` once; return None if it was already settled.

    The unique constraint on ``CreditEntry.hold`` decides, not a prior read: a second
    settlement fails its INSERT inside a savepoint and changes nothing.
    """
    if hold.kind != Kind.HOLD:
        raise ValueError(f"Entry {hold.pk} is a {hold.kind}, not a hold.")
    amount = hold.amount if kind == Kind.CAPTURE else -hold.amount
    with transaction.atomic():
        account = locked_account(hold.account.user_id)
        try:
            with transaction.atomic():
                entry = _apply(
                    account,
                    kind=kind,
                    amount=amount,
                    key=f"settle:hold:{hold.pk}",
                    actor=actor,
                    memo=memo,
                    generation=hold.generation,
                    hold=hold,
                )
                _roll_up(
                    entry, user_id=account.user_id, generation=hold.generation, outcome=outcome
                )
                return entry
        except IntegrityError:
            if CreditEntry.objects.filter(hold=hold).exists():
                return None
            raise


def _roll_up(
    entry: CreditEntry, *, user_id: int, generation: Generation | None, outcome: str = ""
) -> None:
    """Add a capture or release ``entry`` to its ``SpendRollup`` row and to the team's
    ``SpendDay`` row, in its transaction (docs/architecture.md "Stored figures"); a release
    that ends its job (``outcome``) also counts as a failure or a cancel."""
    dimensions = {
        "provider": generation.provider if generation else "",
        "mode": generation.mode if generation else "",
        "resolution": generation.resolution if generation else "",
        "sound": bool(generation.sound) if generation else False,
    }
    if entry.kind == Kind.CAPTURE:
        counts = {"captures": 1, "captured": -entry.amount}
    else:
        counts = {"releases": 1, "released": entry.amount}
        if outcome in FAILURE_OUTCOMES:
            counts["failures"] = 1
        elif outcome == CANCEL_OUTCOME:
            counts["cancels"] = 1
    _add_to_row(
        SpendRollup,
        {"slot": spend_slot(entry.created_at), "user_id": user_id, **dimensions},
        counts,
    )
    # The team-wide row last: every settlement of the day and kind updates it, so it is
    # held for the shortest time (one row per transaction, so no lock order to get wrong).
    _add_to_row(SpendDay, {"day": spend_day(entry.created_at), **dimensions}, counts)


def _add_to_row(model, key: dict, counts: dict[str, int]) -> None:
    """Add ``counts`` to the ``model`` row of ``key``, creating it when missing.

    Update first; when the row does not exist yet, insert it in a savepoint, and if a
    concurrent transaction inserted it first (the unique constraint refuses ours), update
    the row it committed: the row never loses an increment. The UPDATE's row lock
    serialises concurrent settlements of one row until their transactions end.
    """
    increments = {name: F(name) + value for name, value in counts.items()}
    rows = model.objects.filter(**key)
    if rows.update(**increments):
        return
    try:
        with transaction.atomic():
            model.objects.create(**key, **counts)
    except IntegrityError:
        rows.update(**increments)


def credits_capture(
    *, hold: CreditEntry, actor: User | None = None, memo: str = ""
) -> CreditEntry | None:
    """Turn a hold into spend: its credits leave ``held`` for good.

    Returns the capture entry, or None when the hold was already captured or released
    (exactly one settlement per hold, docs/architecture.md "Two-phase charging").
    """
    return _settle(hold, kind=Kind.CAPTURE, actor=actor, memo=memo or "Generation succeeded")


def credits_release(
    *, hold: CreditEntry, actor: User | None = None, memo: str = "", outcome: str = ""
) -> CreditEntry | None:
    """Refund a hold: its credits return from ``held`` to the available balance.

    Args:
        outcome: the job's final state when this release ends it (``failed``, ``expired``
            or ``canceled``), counted in the spend rollups' jobs by outcome; empty when the
            job goes on (a failover releases the first provider's hold and holds anew).

    Returns the release entry, or None when the hold was already captured or released.
    """
    return _settle(hold, kind=Kind.RELEASE, actor=actor, memo=memo or "Refund", outcome=outcome)


def spend_days_rebuild() -> int:
    """Rewrite every ``SpendDay`` row from ``SpendRollup``, in one transaction; return how
    many rows it wrote.

    For a change of ``settings.TIME_ZONE`` (which moves the local days' boundaries) or a
    spend-day mismatch ``ledger_check`` reported (``manage.py ledger_check
    --rebuild-spend-days``, docs/deploy.md). The rollup is exact per UTC quarter hour, and a
    quarter hour lies in one local day in every zone, so summing its rows per local day
    gives the days without reading the ledger (``ledger_check`` compares the rollup with the
    ledger itself). On PostgreSQL the table is locked first (EXCLUSIVE: reads go on), so a
    settlement committed meanwhile is either read or adds to the new rows after they
    commit; none is lost or counted twice. SQLite runs one writer at a time anyway.
    """
    from ..selectors.ledger import GROUP_FIGURES

    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {SpendDay._meta.db_table} IN EXCLUSIVE MODE")
        days: dict[tuple, list[int]] = {}
        rows = SpendRollup.objects.order_by().values_list(
            "slot", "provider", "mode", "resolution", "sound", *GROUP_FIGURES
        )
        for slot, provider, mode, resolution, sound, *figures in rows.iterator(chunk_size=5000):
            day = days.setdefault(
                (spend_day(slot), provider, mode, resolution, sound), [0] * len(GROUP_FIGURES)
            )
            for position, value in enumerate(figures):
                day[position] += value
        SpendDay.objects.all().delete()
        SpendDay.objects.bulk_create(
            [
                SpendDay(
                    day=day,
                    provider=provider,
                    mode=mode,
                    resolution=resolution,
                    sound=sound,
                    **dict(zip(GROUP_FIGURES, figures, strict=True)),
                )
                for (day, provider, mode, resolution, sound), figures in days.items()
            ],
            batch_size=5000,
        )
    return len(days)
