"""Admin permissions (issue #12 items 6, 7, 9): the custom permissions of the manager's
actions, the audit log's ``subject``, and the Managers group's permissions.

The Managers group gets what a manager's work in the admin needs and nothing more: the
generation console and its actions, read-only ledger, audit log, prices and invitations,
publishing a price table, and provider alerts. User administration, django-q2's and axes'
models stay with superusers (``generations.admin``). Idempotent: running it again adds
nothing twice, and permissions an operator gave the group by hand are kept.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

# (model, codename) of every permission the Managers group holds.
MANAGERS_PERMISSIONS = [
    ("user", "manage_team"),
    ("generation", "view_generation"),
    ("generation", "act_on_generation"),
    ("creditentry", "view_creditentry"),
    ("auditentry", "view_auditentry"),
    ("invitation", "view_invitation"),
    ("pricetable", "view_pricetable"),
    ("pricetable", "publish_pricetable"),
    ("price", "view_price"),
    ("provideralert", "view_provideralert"),
    ("provideralert", "resolve_provideralert"),
]


def grant(apps, schema_editor):
    """Create the app's permissions now (Django makes them only after all migrations) and
    give the Managers group its set."""
    app_config = apps.get_app_config("generations")
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True  # a migration's apps have none
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Managers")
    wanted = Permission.objects.filter(content_type__app_label="generations").filter(
        codename__in=[codename for _, codename in MANAGERS_PERMISSIONS]
    )
    missing = {codename for _, codename in MANAGERS_PERMISSIONS} - set(
        wanted.values_list("codename", flat=True)
    )
    if missing:
        raise RuntimeError(f"Permissions not found: {sorted(missing)}")
    group.permissions.add(*wanted)


def ungrant(apps, schema_editor):
    """Take back the permissions this migration gave (all but ``manage_team``, from 0003)."""
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name="Managers").first()
    if group is not None:
        group.permissions.remove(
            *group.permissions.filter(
                content_type__app_label="generations",
                codename__in=[c for _, c in MANAGERS_PERMISSIONS if c != "manage_team"],
            )
        )


class Migration(migrations.Migration):

    dependencies = [
        ('generations', '0008_generation_failover'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='generation',
            options={'ordering': ['-created_at', '-id'], 'permissions': [('act_on_generation', 'Can cancel, expire, poll and retry downloads of generations')]},
        ),
        migrations.AlterModelOptions(
            name='pricetable',
            options={'ordering': ['-version'], 'permissions': [('publish_pricetable', 'Can publish a new price table version')]},
        ),
        migrations.AlterModelOptions(
            name='provideralert',
            options={'ordering': ['-last_seen', '-id'], 'permissions': [('resolve_provideralert', 'Can resolve provider alerts')]},
        ),
        migrations.AddField(
            model_name='auditentry',
            name='subject',
            field=models.CharField(blank=True, help_text='What was acted on when it is not a member, e.g. "Generation #12".', max_length=200),
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('grant', 'Credits granted'), ('revoke', 'Credits revoked'), ('cap', 'Monthly cap changed'), ('price', 'Prices changed'), ('invite', 'Member invited'), ('invite_revoke', 'Invitation withdrawn'), ('deactivate', 'Member deactivated'), ('reactivate', 'Member reactivated'), ('manager_add', 'Made a manager'), ('manager_remove', 'No longer a manager'), ('account_change', 'Account changed in the admin'), ('cancel', 'Generation canceled'), ('expire', 'Generation expired'), ('poll', 'Generation polled'), ('download_retry', 'Result download retried'), ('alert_resolve', 'Provider alert resolved')], max_length=16),
        ),
        migrations.RunPython(grant, ungrant),
    ]
