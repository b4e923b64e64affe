"""WCAG 2.2 AA on every page, checked by axe-core in Chromium (issue #19).

Every page a member, a manager, a visitor and the admin's users see is loaded in Chromium at
a phone's and a laptop's width, axe-core (``vendor/axe.min.js``) runs on it with the WCAG 2.0,
2.1 and 2.2 A and AA rules, and any violation, whatever its impact, fails the test.

Pages are found, not listed by hand: every named URL of the portal must be audited by a
``Page`` below or be in ``NOT_PAGES`` with the reason (``test_every_url_is_audited``), and the
admin's changelists come from ``admin.site._registry``, so a new model's list is audited as
soon as it is registered. Nothing is excluded, the admin included: what it failed (a nameless
filter link, unlabelled list_editable inputs, 20 px filter links, breadcrumb links told apart
by colour alone) is fixed in ``generations/admin.py`` and ``static/css/admin.css``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.e2e.browser import ARTIFACTS, log_in, requires_chromium
from tests.url_walk import named_patterns

from .conftest import AXE_JS, World

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}
PASSWORD = "correct horse battery"


def send(page) -> None:
    with page.expect_navigation():
        page.locator("main form[method=post] button[type=submit]").last.click()


def submit(page) -> None:
    """Send the page's main form as it stands (empty), so its errors show."""
    send(page)
    assert page.locator(".errorlist").count(), f"no errors shown on {page.url}"


def over_every_limit(page) -> None:
    """Issue #15 item 6: a price over the balance and a prompt over 2,500 characters, so the
    reasons (error style, in the price box and by the prompt) are audited too."""
    page.fill("textarea[name=prompt]", "a misty harbour at dawn, " * 110)
    page.wait_for_function(
        "!document.getElementById('price-blocked').hidden"
        " && !document.getElementById('prompt-over').hidden"
    )


def fail_login(page) -> None:
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", "not the password")
    submit(page)


def lock_out(page) -> None:
    """Fail as many times as django-axes allows; the next attempt shows the lockout page."""
    from django.conf import settings

    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.fill("input[name=username]", "intruder")
        page.fill("input[name=password]", "guess")
        send(page)
    assert page.locator("h1", has_text="Too many failed log-ins").count() == 1


def log_out(page) -> None:
    page.locator("summary", has_text="newbie").click()
    with page.expect_navigation():
        page.click("text=Log out")


def wrong_passwords(page) -> None:
    page.fill("input[name=old_password]", "not my password")
    page.fill("input[name=new_password1]", "short")
    page.fill("input[name=new_password2]", "other")
    submit(page)


@dataclass(frozen=True)
class Page:
    """One page to audit: who looks at it, its URL name (and arguments), what they do first.

    ``user`` is a username from the ``world`` fixture, or None for a visitor. ``kwargs`` turns
    the world into the URL's arguments; ``then`` acts on the loaded page (fill and send a form)
    and the page it leads to is the one audited.
    """

    label: str
    user: str | None
    name: str
    kwargs: Callable[[World], dict] = field(default=lambda world: {})
    query: str = ""
    then: Callable | None = None
    url: Callable[[World], str] | None = None

    def path(self, world: World) -> str:
        if self.url:
            return self.url(world)
        return reverse(self.name, kwargs=self.kwargs(world)) + self.query


PAGES = [
    Page("gallery with jobs", "ana", "generations:list"),
    Page("gallery without jobs", "newbie", "generations:list"),
    Page("gallery, no match", "ana", "generations:list", query="?q=nothing+like+this"),
    Page(
        "gallery, filters and one not understood",
        "ana",
        "generations:list",
        query="?state=succeeded&mode=text-to-video&favourite=1&from=2020-01-01&sort=bogus",
    ),
    Page("team library, another member's video", "newbie", "generations:library"),
    Page("team library, a manager", "boss", "generations:library"),
    Page("team library, no match", "ana", "generations:library", query="?resolution=1080p"),
    Page(
        "new text-to-video, errors",
        "ana",
        "generations:new",
        query="?mode=text-to-video",
        then=submit,
    ),
    Page(
        "new image-to-video, errors",
        "ana",
        "generations:new",
        query="?mode=image-to-video",
        then=submit,
    ),
    Page(
        "new video-extend, errors",
        "ana",
        "generations:new",
        query="?mode=video-extend",
        then=submit,
    ),
    Page(
        "new, over the balance and the prompt limit",
        "newbie",
        "generations:new",
        then=over_every_limit,
    ),
    Page(
        "extend a finished job",
        "ana",
        "generations:new",
        url=lambda w: f"{reverse('generations:new')}?extend={w.finished.pk}",
    ),
    Page(
        "generate again on an extend",
        "ana",
        "generations:new",
        url=lambda w: f"{reverse('generations:new')}?again={w.extension.pk}",
    ),
    Page("detail, finished", "ana", "generations:detail", lambda w: {"pk": w.finished.pk}),
    Page("detail, failed", "ana", "generations:detail", lambda w: {"pk": w.failed.pk}),
    Page("gallery, hidden videos", "ana", "generations:list", query="?hidden=1"),
    Page(
        "delete videos, confirmation",
        "ana",
        "generations:bulk_delete",
        url=lambda w: f"{reverse('generations:bulk_delete')}?ids={w.finished.pk}",
    ),
    Page("usage", "ana", "generations:usage"),
    Page("profile", "ana", "profile"),
    Page("change password, errors", "ana", "password_change", then=wrong_passwords),
    Page("password changed", "ana", "password_change_done"),
    Page("team", "boss", "team:members"),
    Page("team spend", "boss", "generations:team_spend"),
    Page("audit log", "boss", "team:audit"),
    Page("team API tokens", "boss", "team:tokens"),
    Page(
        "invitation, errors",
        None,
        "invitation_accept",
        then=submit,
        url=lambda w: w.invitation_path,
    ),
    Page("login", None, "login"),
    Page("login, errors", None, "login", then=fail_login),
    Page("lockout", None, "login", then=lock_out),
    Page("logged out", "newbie", "logout", url=lambda w: "/", then=log_out),
    Page("password reset", None, "password_reset"),
    Page("password reset sent", None, "password_reset_done"),
    Page(
        "password reset, bad link",
        None,
        "password_reset_confirm",
        lambda w: {"uidb64": "MQ", "token": "set-password"},
    ),
    Page("password reset done", None, "password_reset_complete"),
]

# URL names that are not pages a person reads, and why.
NOT_PAGES = {
    "generations:quote": "JSON for the form's live price",
    "generations:credits": "the credits bar fragment, audited inside every page",
    "generations:credits_request": "POST only",
    "generations:updates": "JSON for live pages (static/js/live.js)",
    "generations:bulk": "POST-only target of the gallery's bulk bar: redirects, or a ZIP",
    "generations:card": "a gallery card fragment, audited inside the gallery",
    "generations:status": "the detail page's status fragment, audited inside it",
    "generations:video": "the video file",
    "generations:poster": "an image file (a video's poster frame)",
    "generations:favourite": "POST only (a card's star; redirects to the gallery)",
    "generations:share": "POST only (a card's Share/Unshare; redirects back)",
    "generations:input_thumbnail": "an image file",
    "generations:statement_csv": "CSV",
    "generations:team_spend_csv": "CSV",
    "team:credits": "POST only",
    "team:invite": "POST only",
    "team:invite_revoke": "POST only",
    "team:cap": "POST only",
    "team:active": "POST only",
    "team:manager": "POST only",
    "provider_alert_resolve": "POST only",
    "public_input": "an input file for the provider",
    "generation_webhook": "the provider's callback",
    "healthz": "health check (text)",
    "readyz": "health check (text)",
    "metrics": "Prometheus metrics",
    "favicon": "a redirect to the static favicon",
    "api_token_create": "POST only; renders the profile (audited) with the new token",
    "api_token_revoke": "POST only",
    "webhook_create": "POST only; renders the profile (audited) with the new secret",
    "webhook_delete": "POST only",
    "webhook_enable": "POST only",
    "team:token_revoke": "POST only",
    "api-v1:openapi-view": "django-ninja's interactive API docs (Swagger UI, third-party)",
    "set_language": "POST only (the language switch; redirects back)",
    "javascript-catalog": "JavaScript (Django's translation catalog)",
}
# The REST API answers JSON (problem+json for errors), not pages.
NOT_PAGES |= {
    name: "REST API (JSON)"
    for name, _ in named_patterns()
    if name.startswith("api-v1:") and name not in NOT_PAGES
}


def admin_pages() -> list[Page]:
    """The admin's index, for a superuser and a manager, and every registered changelist."""
    pages = [Page("admin index", "root", "admin:index"), Page("admin index", "boss", "admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}_changelist"
        pages.append(Page(f"admin {opts.app_label}.{opts.model_name}", "root", name))
    # A generation's page, with the player of its stored video (issue #15 item 11).
    pages.append(
        Page(
            "admin generation with its player",
            "root",
            "admin:generations_generation_change",
            lambda w: {"object_id": w.finished.pk},
        )
    )
    return pages


def test_every_url_is_audited():
    audited = {page.name for page in PAGES}
    names = {name for name, _ in named_patterns()}
    unclassified = names - audited - set(NOT_PAGES)
    assert not unclassified, (
        f"audit these pages in PAGES or excuse them in NOT_PAGES: {unclassified}"
    )
    assert not audited & set(NOT_PAGES)


def run_axe(page) -> list[dict]:
    """Run axe-core on the loaded page; return its violations, each with a few nodes."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text())
    results = page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
            });
            return {passed: results.passes.length, violations: results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => ({target: n.target.join(" "),
                    html: n.html.slice(0, 160), summary: n.failureSummary})),
                count: v.nodes.length,
            }))};
        }""",
        TAGS,
    )
    assert results["passed"] > 10, f"axe passed only {results['passed']} rules on {page.url}"
    return results["violations"]


def settle(page) -> None:
    """Wait for the page's own scripts: the live price, the charts, the first poll."""
    page.wait_for_load_state("networkidle")
    if page.locator("#price-credits").count():
        page.wait_for_function("document.getElementById('price-credits').textContent !== '…'")


@requires_chromium
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_every_page_passes_axe(live_server, world, chromium, settings, viewport, scheme):
    settings.AXES_ENABLED = True  # for the lockout page
    contexts = {}
    failures, checked = [], 0
    try:
        for spec in [*PAGES, *admin_pages()]:
            # A fresh context for a page that signs out or locks out, one per user otherwise.
            key = spec.user if spec.then not in (lock_out, log_out) else spec.label
            if key not in contexts:
                context = chromium.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme)
                context.set_default_timeout(20_000)
                contexts[key] = context.new_page()
                if spec.user:
                    log_in(contexts[key], live_server.url, spec.user)
            page = contexts[key]
            page.goto(live_server.url + spec.path(world))
            if spec.then:
                spec.then(page)
            settle(page)
            violations = run_axe(page)
            checked += 1
            if violations:
                failures.append((spec, page.url, violations))
                ARTIFACTS.mkdir(exist_ok=True)
                shot = (
                    f"axe-{viewport}-{scheme}-{spec.label.replace(' ', '_').replace(',', '')}.png"
                )
                page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    finally:
        for page in contexts.values():
            page.context.close()
    report = "\n".join(
        f"{spec.label} ({spec.user or 'visitor'}) {url}\n"
        + "\n".join(
            f"  [{v['impact']}] {v['id']}: {v['help']} ({v['count']} nodes)\n"
            + "\n".join(
                f"      {n['target']}: {n['html']}\n        {n['summary']}" for n in v["nodes"]
            )
            for v in violations
        )
        for spec, url, violations in failures
    )
    where = f"{VIEWPORTS[viewport]['width']} px, {scheme} theme"
    assert not failures, f"{len(failures)} of {checked} pages fail axe at {where}:\n{report}"
    print(f"axe: {checked} pages pass at {where}")


@requires_chromium
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_axe_catches_a_violation(live_server, chromium):
    """The check has teeth: a link with no text, as the admin's fail-code filter had, fails."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}{reverse('login')}")
        assert run_axe(page) == []
        page.evaluate(
            "document.querySelector('main').insertAdjacentHTML('beforeend',"
            ' \'<a href="?fail_code=" style="display: block; height: 24px"></a>\')'
        )
        assert [v["id"] for v in run_axe(page)] == ["link-name"]
    finally:
        context.close()
