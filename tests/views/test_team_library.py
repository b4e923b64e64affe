"""The team library: sharing, unsharing, who sees what, and extending a shared video
(issue #15 item 9; docs/gallery.md "Team library", "Extending a shared video")."""

import pytest
from django.urls import reverse
from django.utils import timezone

from generations.models import AuditEntry, CreditEntry, Generation
from generations.services.sharing import NotShareable, generation_share_set

from ..factories import GenerationFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

EXTEND = {
    "mode": "video-extend",
    "prompt": "the boat sails on into the storm",
    "resolution": "720p",
    "duration": "5",
    "sound": "off",
    "camera_fixed": "on",
    "client_token": "extend-1",
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    (tmp_path / "media" / "results").mkdir(parents=True)
    (tmp_path / "media" / "results" / "ana.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 video")
    (tmp_path / "media" / "posters").mkdir()
    (tmp_path / "media" / "posters" / "ana.webp").write_bytes(b"RIFF....WEBP")


@pytest.fixture
def ana(db):
    return UserFactory(username="ana")


@pytest.fixture
def video(ana):
    """``ana``'s finished, stored video with a poster; not shared."""
    return GenerationFactory(
        user=ana,
        state="succeeded",
        result_state="stored",
        result_file="results/ana.mp4",
        poster="posters/ana.webp",
        result_bytes=22,
        prompt="a lighthouse at dusk",
    )


def share(client, generation, shared=True, **extra):
    return client.post(
        reverse("generations:share", args=[generation.pk]),
        {"shared": "1" if shared else "0", **extra},
    )


def library(client, **params) -> list[int]:
    response = client.get(reverse("generations:library"), params)
    assert response.status_code == 200
    return [g.pk for g in response.context["generations"]]


class TestSharing:
    def test_nothing_is_shared_by_default(self, member_client, video):
        assert video.shared_at is None
        assert library(member_client) == []
        assert b"Nothing shared yet" in member_client.get(reverse("generations:library")).content

    def test_the_owner_shares_from_the_card_and_the_team_sees_it(self, client, ana, video, member):
        client.force_login(ana)
        gallery = client.get(reverse("generations:list")).content.decode()
        assert reverse("generations:share", args=[video.pk]) in gallery
        response = share(client, video, next="/?state=succeeded")
        assert response.status_code == 302 and response.url == "/?state=succeeded"
        video.refresh_from_db()
        assert video.shared_at is not None
        client.force_login(member)
        assert library(client) == [video.pk]
        html = client.get(reverse("generations:library")).content.decode()
        assert "Shared by ana" in html
        # Another member's card: no detail page, no favourite, no unshare, but extend.
        assert f'href="{reverse("generations:detail", args=[video.pk])}"' not in html
        assert reverse("generations:favourite", args=[video.pk]) not in html
        assert reverse("generations:share", args=[video.pk]) not in html
        assert f"{reverse('generations:new')}?extend={video.pk}" in html
        entry = AuditEntry.objects.get(action=AuditEntry.Action.SHARE)
        assert (entry.actor, entry.target_user, entry.subject) == (
            ana,
            ana,
            f"Generation #{video.pk}",
        )
        assert (entry.before, entry.after) == ({"shared": False}, {"shared": True})

    def test_the_detail_page_offers_share(self, client, ana, video):
        client.force_login(ana)
        html = client.get(video.get_absolute_url()).content.decode()
        assert reverse("generations:share", args=[video.pk]) in html

    def test_a_member_cannot_share_another_members_video(self, member_client, video):
        assert share(member_client, video).status_code == 404
        video.refresh_from_db()
        assert video.shared_at is None
        assert not AuditEntry.objects.exists()

    def test_an_unfinished_video_cannot_be_shared(self, ana):
        failed = GenerationFactory(user=ana, state="failed")
        with pytest.raises(NotShareable):
            generation_share_set(actor=ana, generation_id=failed.pk, shared=True)
        downloading = GenerationFactory(user=ana, state="succeeded", result_state="pending")
        with pytest.raises(NotShareable):
            generation_share_set(actor=ana, generation_id=downloading.pk, shared=True)
        assert not Generation.objects.filter(shared_at__isnull=False).exists()

    def test_sharing_twice_writes_once(self, ana, video):
        first = generation_share_set(actor=ana, generation_id=video.pk, shared=True).shared_at
        again = generation_share_set(actor=ana, generation_id=video.pk, shared=True).shared_at
        assert first == again
        assert AuditEntry.objects.filter(action="share").count() == 1

    def test_the_owner_unshares(self, client, ana, video, member):
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        client.force_login(ana)
        assert share(client, video, shared=False).status_code == 302
        client.force_login(member)
        assert library(client) == []

    def test_a_member_cannot_unshare_another_members_video(self, member_client, ana, video):
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        assert share(member_client, video, shared=False).status_code == 404
        video.refresh_from_db()
        assert video.shared_at is not None

    def test_a_manager_unshares_anything_but_cannot_share_for_others(self, client, ana, video):
        boss = ManagerFactory()
        client.force_login(boss)
        assert share(client, video).status_code == 404  # sharing is the owner's choice
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        html = client.get(reverse("generations:library")).content.decode()
        assert reverse("generations:share", args=[video.pk]) in html  # Unshare offered
        assert share(client, video, shared=False).status_code == 302
        video.refresh_from_db()
        assert video.shared_at is None
        entry = AuditEntry.objects.get(action=AuditEntry.Action.UNSHARE)
        assert (entry.actor, entry.target_user) == (boss, ana)
        assert client.get(reverse("team:audit")).status_code == 200

    def test_share_is_post_only(self, client, ana, video):
        client.force_login(ana)
        assert client.get(reverse("generations:share", args=[video.pk])).status_code == 405

    def test_the_library_filters_and_has_no_state_or_favourite_chip(self, client, ana, video):
        other = GenerationFactory(
            user=UserFactory(),
            state="succeeded",
            result_state="stored",
            resolution="720p",
            shared_at=timezone.now(),
        )
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        GenerationFactory(user=ana, state="succeeded", result_state="stored")  # not shared
        client.force_login(ana)
        assert set(library(client)) == {video.pk, other.pk}
        assert library(client, resolution="720p") == [other.pk]
        assert library(client, q="lighthouse") == [video.pk]
        html = client.get(reverse("generations:library")).content.decode()
        assert 'name="state"' not in html and 'name="favourite"' not in html
        assert 'name="mode"' in html and 'name="sort"' in html
        empty = client.get(reverse("generations:library"), {"q": "dragon"}).content.decode()
        assert "No video matches these filters" in empty and "Clear filters" in empty


class TestMediaAccess:
    def test_a_team_member_fetches_a_shared_video_and_poster_only_while_shared(
        self, member_client, ana, video
    ):
        video_url = reverse("generations:video", args=[video.pk])
        poster_url = reverse("generations:poster", args=[video.pk])
        assert member_client.get(video_url).status_code == 404
        assert member_client.get(poster_url).status_code == 404
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        assert member_client.get(video_url).status_code == 200
        assert member_client.get(video_url, {"download": "1"}).status_code == 200
        assert member_client.get(poster_url).status_code == 200
        # Everything else of the job stays the owner's.
        for name in ("detail", "card", "status"):
            assert (
                member_client.get(reverse(f"generations:{name}", args=[video.pk])).status_code
                == 404
            )
        generation_share_set(actor=ana, generation_id=video.pk, shared=False)
        assert member_client.get(video_url).status_code == 404
        assert member_client.get(poster_url).status_code == 404

    def test_a_shared_flag_on_a_job_without_a_stored_video_shows_nothing(self, member_client, ana):
        # shared_at set behind the service's back (e.g. the file was removed later).
        gone = GenerationFactory(user=ana, state="succeeded", result_state="failed")
        Generation.objects.filter(pk=gone.pk).update(shared_at=timezone.now())
        assert library(member_client) == []
        assert member_client.get(reverse("generations:video", args=[gone.pk])).status_code == 404


class TestExtendingASharedVideo:
    def test_extend_of_a_shared_video_is_the_extenders_job_at_their_cost(self, client, ana, video):
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        bob = UserFactory(username="bob", credits=5_000)
        ana_entries = CreditEntry.objects.filter(account__user=ana).count()
        client.force_login(bob)
        page = client.get(reverse("generations:new"), {"extend": video.pk}).content.decode()
        # The source is shown, playable, without a link to ana's own page.
        assert f"#{video.pk}, shared by ana in the team library: a lighthouse at dusk" in page
        assert f'src="{reverse("generations:video", args=[video.pk])}"' in page
        assert f'href="{video.get_absolute_url()}"' not in page
        response = client.post(
            reverse("generations:new"), {**EXTEND, "source_generation": video.pk}
        )
        assert response.status_code == 302, response.context["form"].errors
        job = Generation.objects.get(user=bob)
        assert job.source_generation == video
        # 720p extend, sound off: 24 credits/s x 5 s (docs/prices.md), held from bob.
        assert job.price_credits == 120
        hold = CreditEntry.objects.get(generation=job, kind=CreditEntry.Kind.HOLD)
        assert hold.account.user == bob and hold.amount == -120
        assert CreditEntry.objects.filter(account__user=ana).count() == ana_entries

    def test_a_video_never_shared_or_unshared_later_cannot_be_extended_by_others(
        self, client, ana, video
    ):
        bob = UserFactory(username="bob", credits=5_000)
        client.force_login(bob)
        post = {**EXTEND, "source_generation": video.pk}
        refused = client.post(reverse("generations:new"), post)
        assert "one shared in the team library" in refused.content.decode()
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        assert client.post(reverse("generations:new"), post).status_code == 302
        first = Generation.objects.get(user=bob)
        generation_share_set(actor=ana, generation_id=video.pk, shared=False)
        before = CreditEntry.objects.count()
        again = client.post(reverse("generations:new"), {**post, "client_token": "extend-2"})
        assert again.status_code == 200
        assert "one shared in the team library" in again.content.decode()
        # Nor through "Generate again" of bob's own extension, which reuses the source.
        reuse = client.post(
            reverse("generations:new"),
            {**EXTEND, "inputs_from": first.pk, "client_token": "extend-3"},
        )
        assert reuse.status_code == 200
        assert "one shared in the team library" in reuse.content.decode()
        assert Generation.objects.filter(user=bob).count() == 1
        assert CreditEntry.objects.count() == before

    def test_after_an_unshare_the_extenders_page_no_longer_shows_the_source_prompt(
        self, client, ana, video
    ):
        generation_share_set(actor=ana, generation_id=video.pk, shared=True)
        bob = UserFactory(username="bob", credits=5_000)
        client.force_login(bob)
        client.post(reverse("generations:new"), {**EXTEND, "source_generation": video.pk})
        mine = Generation.objects.get(user=bob)
        page = client.get(mine.get_absolute_url()).content.decode()
        assert "a video shared in the team library: a lighthouse at dusk" in page
        generation_share_set(actor=ana, generation_id=video.pk, shared=False)
        page = client.get(mine.get_absolute_url()).content.decode()
        assert "lighthouse" not in page
        assert f"Extends #{video.pk}, a video no longer in the team library." in page
        # Nor "Generate again" of that extension: no prompt, no link, no poster of the source.
        again = client.get(reverse("generations:new"), {"again": mine.pk}).content.decode()
        assert "lighthouse" not in again
        assert reverse("generations:poster", args=[video.pk]) not in again
        assert f"Extends #{video.pk}, a video no longer in the team library." in again
