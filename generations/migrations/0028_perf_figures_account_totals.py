"""Cumulative per-kind totals of each account (docs/architecture.md "Stored figures", issue #14).

``AccountTotals``: per account and UTC quarter hour with entries, the number and the summed
amount of the account's entries of each kind up to the end of that quarter hour. Backfilled
in one streamed pass over the entries in (account, time) order: memory holds one account's
running totals and one batch of rows, whatever the ledger's size.
"""

from datetime import UTC

import django.db.models.deletion
from django.db import migrations, models

KINDS = ("grant", "revoke", "hold", "capture", "release", "adjust")
BATCH = 5000


def _slot(moment):
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def backfill_account_totals(apps, schema_editor):
    CreditEntry = apps.get_model("generations", "CreditEntry")
    AccountTotals = apps.get_model("generations", "AccountTotals")
    position = {kind: 2 * n for n, kind in enumerate(KINDS)}
    names = [f"{kind}_{figure}" for kind in KINDS for figure in ("count", "credits")]
    entries = (
        CreditEntry.objects.order_by("account_id", "created_at")
        .values_list("account_id", "created_at", "kind", "amount")
        .iterator(chunk_size=BATCH)
    )
    batch, current, running = [], None, [0] * len(names)

    def row(key):
        return AccountTotals(account_id=key[0], slot=key[1], **dict(zip(names, running)))

    for account_id, created_at, kind, amount in entries:
        key = (account_id, _slot(created_at))
        if current is not None and key != current:
            batch.append(row(current))
            if len(batch) >= BATCH:
                AccountTotals.objects.bulk_create(batch)
                batch = []
            if account_id != current[0]:
                running = [0] * len(names)
        current = key
        running[position[kind]] += 1
        running[position[kind] + 1] += amount
    if current is not None:
        batch.append(row(current))
    AccountTotals.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0027_gallery_filters_library"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountTotals",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "slot",
                    models.DateTimeField(help_text="UTC start of the quarter hour (spend_slot)."),
                ),
                ("grant_count", models.BigIntegerField(default=0)),
                ("grant_credits", models.BigIntegerField(default=0)),
                ("revoke_count", models.BigIntegerField(default=0)),
                ("revoke_credits", models.BigIntegerField(default=0)),
                ("hold_count", models.BigIntegerField(default=0)),
                ("hold_credits", models.BigIntegerField(default=0)),
                ("capture_count", models.BigIntegerField(default=0)),
                ("capture_credits", models.BigIntegerField(default=0)),
                ("release_count", models.BigIntegerField(default=0)),
                ("release_credits", models.BigIntegerField(default=0)),
                ("adjust_count", models.BigIntegerField(default=0)),
                ("adjust_credits", models.BigIntegerField(default=0)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="generations.creditaccount",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "account totals",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "slot"), name="account_totals_one_per_slot"
                    )
                ],
            },
        ),
        migrations.RunPython(backfill_account_totals, migrations.RunPython.noop, elidable=True),
    ]
