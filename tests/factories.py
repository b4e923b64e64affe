"""factory_boy factories for the portal's models."""

import factory
from django.contrib.auth.models import Group

from generations.models import Generation, PriceTable, User
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


class GenerationFactory(factory.django.DjangoModelFactory):
    """A queued 4 s, 480p, silent text-to-video job priced 40 credits (no hold written)."""

    class Meta:
        model = Generation

    user = factory.SubFactory(UserFactory)
    mode = "text-to-video"
    model_id = "seedance-1-5-pro"
    prompt = factory.Sequence(lambda n: f"a quiet lake, take {n}")
    resolution = "480p"
    duration = 4
    sound = False
    price_credits = 40
    price_table = factory.LazyFunction(PriceTable.objects.current)
