from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0007_team"),
    ]

    operations = [
        migrations.AddField(
            model_name="generation",
            name="failover_from",
            field=models.CharField(
                blank=True,
                choices=[("apixo", "APIXO"), ("aivideoapi", "aivideoapi.ai")],
                help_text=(
                    "The provider that kept refusing the submit before failover moved the job."
                ),
                max_length=20,
            ),
        ),
    ]
