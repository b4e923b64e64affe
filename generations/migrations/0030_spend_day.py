"""Jobs by outcome in the spend rollup, and the team's spend per local day
(docs/architecture.md "Stored figures", issue #14).

- ``SpendRollup.failures`` and ``cancels``: of each group's releases, those that ended their
  job failed or expired, and canceled (a failover's release, of a hold that is not the job's
  latest, is neither). Backfilled from the releases and their jobs' states now: one streamed
  pass over the releases, memory holding the groups that have such releases.
- ``SpendDay``: the rollup without the member, per local day (``settings.TIME_ZONE``),
  backfilled from ``SpendRollup``, whose quarter hours each lie in one local day in every
  time zone; memory holds one row per day and group (a year is a few thousand).
"""

from collections import defaultdict
from datetime import UTC

from django.db import migrations, models
from django.db.models import Case, CharField, F, OuterRef, Subquery, Value, When
from django.utils import timezone

BATCH = 5000
FIGURES = ("captures", "captured", "releases", "released", "failures", "cancels")
FAILURE_OUTCOMES = ("failed", "expired")


def _slot(moment):
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def backfill_outcomes(apps, schema_editor):
    CreditEntry = apps.get_model("generations", "CreditEntry")
    SpendRollup = apps.get_model("generations", "SpendRollup")
    latest_hold = (
        CreditEntry.objects.filter(generation=OuterRef("generation"), kind="hold")
        .order_by("-pk")
        .values("pk")[:1]
    )
    outcome = Case(
        When(hold_id=Subquery(latest_hold), then=F("generation__state")),
        default=Value(""),
        output_field=CharField(),
    )
    groups = defaultdict(lambda: [0, 0])
    releases = (
        CreditEntry.objects.filter(kind="release")
        .annotate(outcome=outcome)
        .order_by()
        .values_list(
            "created_at",
            "account__user_id",
            "generation__provider",
            "generation__mode",
            "generation__resolution",
            "generation__sound",
            "outcome",
        )
        .iterator(chunk_size=BATCH)
    )
    for created_at, user_id, provider, mode, resolution, sound, ended in releases:
        if ended in FAILURE_OUTCOMES or ended == "canceled":
            key = (_slot(created_at), user_id, provider or "", mode or "", resolution or "")
            groups[(*key, bool(sound))][0 if ended in FAILURE_OUTCOMES else 1] += 1
    for (slot, user_id, provider, mode, resolution, sound), (failures, cancels) in groups.items():
        SpendRollup.objects.filter(
            slot=slot,
            user_id=user_id,
            provider=provider,
            mode=mode,
            resolution=resolution,
            sound=sound,
        ).update(failures=failures, cancels=cancels)


def backfill_spend_days(apps, schema_editor):
    SpendRollup = apps.get_model("generations", "SpendRollup")
    SpendDay = apps.get_model("generations", "SpendDay")
    zone = timezone.get_default_timezone()
    days: dict[tuple, list[int]] = {}
    fields = ("slot", "provider", "mode", "resolution", "sound")
    rows = SpendRollup.objects.order_by().values_list(*fields, *FIGURES).iterator(chunk_size=BATCH)
    for slot, *dimensions_and_figures in rows:
        dimensions, figures = dimensions_and_figures[:4], dimensions_and_figures[4:]
        row = days.setdefault((timezone.localdate(slot, zone), *dimensions), [0] * len(FIGURES))
        for position, value in enumerate(figures):
            row[position] += value
    SpendDay.objects.bulk_create(
        (
            SpendDay(
                day=day,
                provider=provider,
                mode=mode,
                resolution=resolution,
                sound=sound,
                **dict(zip(FIGURES, row, strict=True)),
            )
            for (day, provider, mode, resolution, sound), row in days.items()
        ),
        batch_size=BATCH,
    )


def backfill(apps, schema_editor):
    backfill_outcomes(apps, schema_editor)
    backfill_spend_days(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0029_gallery_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="spendrollup",
            name="cancels",
            field=models.PositiveIntegerField(default=0, db_default=0),
        ),
        migrations.AddField(
            model_name="spendrollup",
            name="failures",
            field=models.PositiveIntegerField(default=0, db_default=0),
        ),
        migrations.CreateModel(
            name="SpendDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("provider", models.CharField(max_length=20)),
                ("mode", models.CharField(max_length=20)),
                ("resolution", models.CharField(max_length=8)),
                ("sound", models.BooleanField()),
                ("captures", models.PositiveIntegerField(default=0)),
                ("captured", models.BigIntegerField(default=0, verbose_name="captured credits")),
                ("releases", models.PositiveIntegerField(default=0)),
                ("released", models.BigIntegerField(default=0, verbose_name="released credits")),
                ("failures", models.PositiveIntegerField(db_default=0, default=0)),
                ("cancels", models.PositiveIntegerField(db_default=0, default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "provider", "mode", "resolution", "sound"),
                        name="spend_day_one_row_per_group",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("captured__gte", 0), ("released__gte", 0)),
                        name="spend_day_credits_gte_0",
                    ),
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
