"""Stored figures of the ledger (docs/architecture.md "Stored figures", issue #14).

``CreditEntry.balance_after``: the available balance right after each entry. Backfilled
with one UPDATE per database: the running sum of each account's balance effects in id
order (the order entries were written under the account lock). The append-only trigger
refuses any UPDATE, so it is lifted for that one statement and put back.

``SpendRollup``: captured and released credits per UTC quarter hour, member, provider,
mode, resolution and sound, backfilled from every capture and release in one pass.
"""

from collections import defaultdict
from datetime import UTC

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from generations import db

# CreditEntry.EFFECTS: kinds whose amount changes the available balance.
BALANCE_KINDS = ("grant", "revoke", "adjust", "hold", "release")
BATCH = 5000


def backfill_balance_after(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    kinds = ", ".join(f"'{kind}'" for kind in BALANCE_KINDS)
    table = db.TABLE
    update = f"""
        UPDATE {table} SET balance_after = running.after
        FROM (
            SELECT id, SUM(CASE WHEN kind IN ({kinds}) THEN amount ELSE 0 END)
                OVER (PARTITION BY account_id ORDER BY id ROWS UNBOUNDED PRECEDING) AS after
            FROM {table}
        ) AS running
        WHERE {table}.id = running.id
    """
    remove = {"sqlite": db.SQLITE_REMOVE, "postgresql": db.POSTGRES_REMOVE}.get(vendor, [])
    install = {"sqlite": db.SQLITE_INSTALL, "postgresql": db.POSTGRES_INSTALL}.get(vendor, [])
    for sql in remove:
        schema_editor.execute(sql)
    schema_editor.execute(update)
    for sql in install:
        schema_editor.execute(sql)


def _slot(moment):
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def backfill_spend_rollup(apps, schema_editor):
    CreditEntry = apps.get_model("generations", "CreditEntry")
    SpendRollup = apps.get_model("generations", "SpendRollup")
    groups = defaultdict(lambda: [0, 0, 0, 0])
    settlements = (
        CreditEntry.objects.filter(kind__in=["capture", "release"])
        .order_by()
        .values_list(
            "created_at",
            "kind",
            "amount",
            "account__user_id",
            "generation__provider",
            "generation__mode",
            "generation__resolution",
            "generation__sound",
        )
    )
    for (
        created_at,
        kind,
        amount,
        user_id,
        provider,
        mode,
        resolution,
        sound,
    ) in settlements.iterator(chunk_size=BATCH):
        key = (_slot(created_at), user_id, provider or "", mode or "", resolution or "")
        counts = groups[(*key, bool(sound))]
        if kind == "capture":
            counts[0] += 1
            counts[1] -= amount
        else:
            counts[2] += 1
            counts[3] += amount
    rows = [
        SpendRollup(
            slot=slot,
            user_id=user_id,
            provider=provider,
            mode=mode,
            resolution=resolution,
            sound=sound,
            captures=captures,
            captured=captured,
            releases=releases,
            released=released,
        )
        for (slot, user_id, provider, mode, resolution, sound), (
            captures,
            captured,
            releases,
            released,
        ) in groups.items()
    ]
    SpendRollup.objects.bulk_create(rows, batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0019_poll_schedule_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="creditentry",
            name="balance_after",
            field=models.BigIntegerField(
                editable=False,
                help_text="The account's available balance right after this entry, written with it under the account lock (null only before migration 0015 backfilled it).",
                null=True,
                verbose_name="available credits after",
            ),
        ),
        migrations.CreateModel(
            name="SpendRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slot", models.DateTimeField()),
                ("provider", models.CharField(max_length=20)),
                ("mode", models.CharField(max_length=20)),
                ("resolution", models.CharField(max_length=8)),
                ("sound", models.BooleanField()),
                ("captures", models.PositiveIntegerField(default=0)),
                ("captured", models.BigIntegerField(default=0, verbose_name="captured credits")),
                ("releases", models.PositiveIntegerField(default=0)),
                ("released", models.BigIntegerField(default=0, verbose_name="released credits")),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["user", "slot"], name="spend_rollup_user_slot")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("slot", "user", "provider", "mode", "resolution", "sound"),
                        name="spend_rollup_one_row_per_group",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("captured__gte", 0), ("released__gte", 0)),
                        name="spend_rollup_credits_gte_0",
                    ),
                ],
            },
        ),
        migrations.AddIndex(
            model_name="creditentry",
            index=models.Index(
                fields=["account", "created_at", "kind", "amount"],
                name="entry_account_created_kind",
            ),
        ),
        migrations.AddIndex(
            model_name="spendrollup",
            index=models.Index(
                fields=["slot", "captures", "captured", "user", "provider", "mode", "resolution"],
                name="spend_rollup_slot_sums",
            ),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(
                fields=["created_at", "user", "state", "provider"], name="generation_created_jobs"
            ),
        ),
        migrations.RunPython(backfill_balance_after, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(backfill_spend_rollup, migrations.RunPython.noop, elidable=True),
    ]
