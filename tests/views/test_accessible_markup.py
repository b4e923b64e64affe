"""Help texts and errors reach screen readers: every ARIA id reference points at an element.

Django gives a field's widget ``aria-describedby="<id>_helptext"`` (and ``<id>_error`` when it
has errors); the templates must give those elements the ids (issue #19 item 1). A reference
to a missing id is silently ignored by screen readers, so the help or error is never read.
"""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from generations.services.team import invitation_create
from tests.factories import ManagerFactory

pytestmark = pytest.mark.django_db

ID_REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls")


class References(HTMLParser):
    """Collect the page's ids and the ids its ARIA attributes refer to."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute, id)
        self.described: dict[str, str] = {}  # element id -> its aria-describedby

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        for name in ID_REFERENCES:
            for ref in (attrs.get(name) or "").split():
                self.references.append((tag, name, ref))
        if attrs.get("aria-describedby"):
            self.described[attrs.get("id", "")] = attrs["aria-describedby"]


def parse(response) -> References:
    assert response.status_code == 200
    parser = References()
    parser.feed(response.content.decode())
    return parser


def assert_references_resolve(parser: References) -> None:
    missing = [ref for ref in parser.references if ref[2] not in parser.ids]
    assert not missing, f"ARIA references to missing ids: {missing}"
    duplicates = {i for i in parser.ids if parser.ids.count(i) > 1}
    assert not duplicates, f"duplicate ids: {duplicates}"


@pytest.mark.parametrize("mode", ["text-to-video", "image-to-video", "video-extend"])
def test_the_generation_form_describes_each_field_by_its_help_and_errors(member_client, mode):
    page = parse(member_client.post(reverse("generations:new") + f"?mode={mode}", {"mode": mode}))
    assert_references_resolve(page)
    # The prompt: help and error, in that order (Django's order).
    assert page.described["id_prompt"] == "id_prompt_helptext id_prompt_error"
    assert page.described["id_duration"] == "id_duration_helptext id_duration_error"
    assert "id_seed_helptext" in page.described["id_seed"]
    # The radio groups are described on their fieldset.
    assert page.described["provider-choice"].startswith("id_provider_helptext")
    assert "id_sound_error" in " ".join(page.described.values())


def test_the_empty_form_describes_fields_by_their_help(member_client):
    page = parse(member_client.get(reverse("generations:new")))
    assert_references_resolve(page)
    assert page.described["id_prompt"] == "id_prompt_helptext"


def test_every_form_page_resolves_its_references(client, member, settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    manager = ManagerFactory()
    sent = invitation_create(email="new@example.com", actor=manager, base_url="http://testserver")
    invitation_path = re.sub(r"^https?://[^/]+", "", sent.url)
    # Visitors: log-in and invitation forms, with their errors.
    assert_references_resolve(parse(client.post(reverse("login"), {"username": "x"})))
    assert_references_resolve(parse(client.post(invitation_path, {})))
    assert_references_resolve(parse(client.post(reverse("password_reset"), {"email": "bad"})))
    # Members: profile, password change with errors, usage with a bad range.
    client.force_login(member)
    assert_references_resolve(parse(client.get(reverse("profile"))))
    page = parse(client.post(reverse("password_change"), {"old_password": "no"}))
    assert_references_resolve(page)
    assert "id_new_password1_helptext" in page.described["id_new_password1"]
    page = parse(client.get(reverse("generations:usage"), {"from": "nonsense"}))
    assert_references_resolve(page)
    assert page.described["id_from"] == "id_from_error"
    # Managers: the team page and the spend report with errors.
    client.force_login(manager)
    assert_references_resolve(parse(client.get(reverse("team:members"))))
    page = parse(client.get(reverse("generations:team_spend"), {"from": "x", "member": "0"}))
    assert_references_resolve(page)
    assert page.described["id_from"] == "id_from_error"
    assert page.described["id_member"] == "id_member_error"
