"""factory_boy factories for the portal's models."""

import factory
from django.contrib.auth.models import Group

from generations.models import CreditAccount, Generation, PriceTable, User
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
    """A queued 4 s, 480p, silent text-to-video job priced 40 credits, with its ledger entries.

    Like a job ``generation_create`` makes, it holds its price through ``credits_hold`` (the
    owner is granted the shortfall first, memo "test grant", when their balance is short).
    A job created in a final state then has its hold settled as the lifecycle would settle
    it: captured if ``succeeded``, released if ``failed``, ``canceled`` or ``expired``. So
    ``ledger_check`` passes on factory jobs (docs/architecture.md "What must hold": every job in
    flight has exactly one open hold).

    ``GenerationFactory(hold=False)`` makes a job with no ledger entries: for a test that
    writes the hold itself (a ledger service test), or one that needs a broken job to prove
    ``ledger_check`` catches it.
    """

    class Meta:
        model = Generation
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    mode = "text-to-video"
    model_id = "seedance-1-5-pro"
    prompt = factory.Sequence(lambda n: f"a quiet lake, take {n}")
    resolution = "480p"
    duration = 4
    sound = False
    price_credits = 40
    price_table = factory.LazyFunction(PriceTable.objects.current)

    @factory.post_generation
    def hold(self, create, extracted, **kwargs):
        """Hold the price (``hold=False``: write nothing), then settle it by the state."""
        if not create or extracted is False:
            return
        from generations.services.ledger import (
            credits_capture,
            credits_grant,
            credits_hold,
            credits_release,
        )

        available = (
            CreditAccount.objects.filter(user=self.user).values_list("balance", flat=True).first()
        ) or 0
        if available < self.price_credits:
            credits_grant(
                user=self.user, amount=self.price_credits - available, actor=None, memo="test grant"
            )
        entry = credits_hold(user=self.user, amount=self.price_credits, generation=self)
        if self.state == Generation.State.SUCCEEDED:
            credits_capture(hold=entry)
        elif self.state in Generation.State.final():
            credits_release(hold=entry, outcome=self.state)
