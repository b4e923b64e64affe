"""The a11y world (tests/a11y/conftest.py) as a Russian team would fill it.

The browser walk (test_russian_walk.py) fails on any Latin word left on a Russian page. What
people type (usernames, names, prompts, memos) is theirs, not the portal's: here it is written
in Russian, as a Russian team's would be, so that every Latin word the walk finds is one the
portal put there.
"""

import pytest

from generations.models import Generation, ProviderAlert, User
from generations.providers.errors import ProviderBalanceError
from tests.a11y.conftest import chromium, world  # noqa: F401 (fixtures, used by name)

# The a11y world's usernames and the Russian names the walk signs in with.
USERNAMES = {"ana": "аня", "newbie": "новичок", "boss": "борис", "root": "админ"}
PROMPTS = {
    "a lighthouse at dusk, waves rolling in": "маяк в сумерках, набегают волны",
    "a fox running through snow": "лиса бежит по снегу",
    "a paper boat on a rainy street": "бумажный кораблик на дождливой улице",
}


@pytest.fixture
def russian_world(world):  # noqa: F811 (the imported fixture, by name)
    """The a11y ``world``, its people's names and words in Russian (``USERNAMES``)."""
    for old, new in USERNAMES.items():
        User.objects.filter(username=old).update(username=new, first_name="", last_name="")
    User.objects.filter(username="борис").update(first_name="Борис", last_name="Петров")
    for generation in Generation.objects.all():
        prompt = PROMPTS.get(generation.prompt, f"сцена номер {generation.pk}")
        Generation.objects.filter(pk=generation.pk).update(prompt=prompt)
    # The a11y world's alert says something the portal never writes; this is what it does.
    ProviderAlert.objects.update(message=ProviderBalanceError.default_message)
    return world
