"""factory_boy factories for the portal's models."""

import factory
from django.contrib.auth.models import Group

from generations.models import User
from generations.models.users import MANAGERS_GROUP


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"member{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def credits(self, create, extracted, **kwargs):
        """``UserFactory(credits=1000)`` grants credits through the ledger."""
        self.save()
        if create and extracted:
            from generations.services.ledger import credits_grant

            credits_grant(user=self, amount=extracted, actor=None, memo="test grant")


class ManagerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"manager{n}")

    @factory.post_generation
    def managers_group(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name=MANAGERS_GROUP))
