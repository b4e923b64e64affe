"""The account and team endpoints, rate limits, the schema and the docs page."""

from itertools import pairwise

import pytest
from django.test import Client
from django.urls import reverse

from generations.selectors.team import members_with_figures
from generations.services.ledger import credits_grant, month_start

from ..factories import GenerationFactory, ManagerFactory, UserFactory
from .conftest import TEXT, client_for

pytestmark = pytest.mark.django_db


def test_me_shows_credits_and_the_cap(db):
    user = UserFactory(credits=1000, monthly_cap_credits=500)
    GenerationFactory(user=user, state="succeeded")  # 40 spent
    GenerationFactory(user=user)  # 40 reserved
    me = client_for(user).get("/api/v1/me").json()
    assert me["username"] == user.username and me["is_manager"] is False
    assert (me["available_credits"], me["reserved_credits"]) == (920, 40)
    assert (me["monthly_cap_credits"], me["month_used_credits"], me["month_left_credits"]) == (
        500,
        80,
        420,
    )
    uncapped = client_for(UserFactory()).get("/api/v1/me").json()
    assert uncapped["monthly_cap_credits"] is None and uncapped["month_left_credits"] is None


def test_quotes_price_every_offer_and_hold_nothing(api_client, rich):
    quote = api_client.post("/api/v1/quotes", {"mode": "text-to-video", "duration": 4}).json()
    assert quote["resolution"] == "720p" and quote["sound"] is False
    offers = {o["provider"]: o for o in quote["offers"]}
    assert set(offers) == {"apixo", "aivideoapi"}
    assert quote["credits"] == offers[quote["provider"]]["credits"] > 0
    created = api_client.post("/api/v1/generations", {**TEXT, "resolution": "720p"}).json()
    assert created["price_credits"] == offers[created["provider"]]["credits"]
    one = api_client.post(
        "/api/v1/quotes",
        {"mode": "image-to-video", "resolution": "1080p", "provider": "aivideoapi"},
    ).json()
    assert [o["provider"] for o in one["offers"]] == ["aivideoapi"]
    rich.credit_account.refresh_from_db()
    assert rich.credit_account.held == created["price_credits"]  # the quotes held nothing


def test_a_quote_names_the_bad_field(api_client):
    response = api_client.post("/api/v1/quotes", {"mode": "video-extend", "duration": 20})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"duration"}
    other = api_client.post("/api/v1/quotes", {"mode": "video-extend", "seed": 1})
    assert other.status_code == 422  # a quote takes the price fields only
    assert {e["field"] for e in other.json()["errors"]} == {"seed"}


def test_the_ledger_is_paged_with_the_balance_after_each_entry(db):
    user = UserFactory(credits=1000)
    for _ in range(3):
        GenerationFactory(user=user, state="failed")  # hold and release each
    credits_grant(user=user, amount=5, actor=None)
    client = client_for(user)
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/ledger", {"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 8 and seen[0]["kind"] == "grant" and seen[-1]["kind"] == "grant"
    assert seen[0]["balance_after"] == 1005
    for newer, older in pairwise(seen):
        assert older["balance_after"] == newer["balance_after"] - newer["balance_change"]
    assert seen[-1]["balance_after"] == 1000
    other = client_for(UserFactory(credits=7)).get("/api/v1/ledger").json()["items"]
    assert [e["amount"] for e in other] == [7]  # only one's own entries


def test_team_endpoints_are_for_managers(api_client, manager_api):
    for path in ("/api/v1/team/members", "/api/v1/team/spend"):
        response = api_client.get(path)
        assert response.status_code == 403
        assert response.json()["type"] == "urn:seedance:problem:forbidden"
        assert manager_api.get(path).status_code == 200


def test_team_members_match_the_team_page(manager_api, rich):
    GenerationFactory(user=rich, state="succeeded")
    answer = manager_api.get("/api/v1/team/members").json()
    page = {m.username: m for m in members_with_figures(since=month_start())}
    assert {m["username"] for m in answer["items"]} == set(page)
    mine = next(m for m in answer["items"] if m["username"] == rich.username)
    figures = page[rich.username]
    assert (
        (mine["available_credits"], mine["spent_this_month_credits"])
        == (
            figures.balance,
            figures.spent_since,
        )
        == (9960, 40)
    )


def test_team_spend_matches_the_page(manager_api, rich):
    GenerationFactory(user=rich, state="succeeded")
    GenerationFactory(user=rich, state="failed")
    answer = manager_api.get("/api/v1/team/spend", {"period": "week"}).json()
    manager = ManagerFactory()
    client = Client()
    client.force_login(manager)
    report = client.get(reverse("generations:team_spend"), {"period": "week"}).context["report"]
    assert (
        (answer["credits"], answer["jobs"], answer["failed"])
        == (
            report.credits,
            report.jobs,
            report.failed,
        )
        == (40, 2, 1)
    )
    mine = next(m for m in answer["members"] if m["username"] == rich.username)
    assert mine["failure_rate"] == "50.0"
    bad = manager_api.get("/api/v1/team/spend", {"from": "2030-01-02", "to": "2030-01-01"})
    assert bad.status_code == 422
    assert manager_api.get("/api/v1/team/spend", {"from": "soon"}).status_code == 422


def test_the_rate_limit_is_per_token_with_retry_after(settings, rich):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    first, second = client_for(rich), client_for(rich)
    answers = [first.get("/api/v1/me").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = first.get("/api/v1/me")
    assert limited["Content-Type"] == "application/problem+json"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["retry_after"] == int(limited["Retry-After"])
    assert second.get("/api/v1/me").status_code == 200  # another token has its own count


def test_the_schema_and_docs_are_served_without_a_token(anonymous):
    schema = anonymous.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {
        "/api/v1/me",
        "/api/v1/quotes",
        "/api/v1/generations",
        "/api/v1/generations/{generation_id}",
        "/api/v1/generations/{generation_id}/cancel",
        "/api/v1/generations/{generation_id}/video",
        "/api/v1/ledger",
        "/api/v1/team/members",
        "/api/v1/team/spend",
    } <= set(paths)
    body = paths["/api/v1/generations"]["post"]["requestBody"]["content"]
    alternatives = body["application/json"]["schema"]["oneOf"]
    offers = {
        (alt["properties"]["mode"]["enum"][0], alt["properties"]["provider"].get("enum", [None])[0])
        for alt in alternatives
    }
    assert offers == {
        ("text-to-video", None),
        ("text-to-video", "apixo"),
        ("text-to-video", "aivideoapi"),
        ("image-to-video", None),
        ("image-to-video", "apixo"),
        ("image-to-video", "aivideoapi"),
        ("video-extend", None),
        ("video-extend", "apixo"),  # extend is APIXO's only (catalog)
    }
    apixo_text = next(a for a in alternatives if a["title"] == "Text to video at APIXO")
    assert apixo_text["properties"]["resolution"]["enum"] == ["480p", "720p", None]
    extend = next(
        a["properties"]
        for a in body["multipart/form-data"]["schema"]["oneOf"]
        if a["title"] == "Extend a video at the default provider"
    )
    assert extend["duration"]["minimum"] == 4 and extend["source_video"]["format"] == "binary"
    assert "aspect_ratio" not in extend  # MODE_FIELDS: extend has no aspect ratio
    docs = anonymous.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_unknown_api_paths_are_problem_404s(api_client):
    response = api_client.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
