"""The migrations say what the models say: no model change is left without its migration.

A partial index spells its condition out in both the model and the migration
(``generation_user_active``, tests/views/test_updates.py checks the model's against
``Generation.active_q``); this keeps the migration in step with the model.
"""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration(capsys):
    call_command("makemigrations", "--check", "--dry-run", verbosity=1)
    assert "No changes detected" in capsys.readouterr().out
