"""No English left on Russian pages, and Russian pages pass axe (issue #17, CI).

Chromium walks the portal's main pages in Russian, opening what opens (the gallery's filter
dropdowns, its bulk bar and lightbox, a form's errors, the credits request), once with the
browser asking for Russian (``Accept-Language``) and once for members who saved Russian on
their profile while the browser asks for English. On every page it reads what a person reads
or hears: visible text, ``aria-label``/``title``/``placeholder``/``alt``, the value of submit
buttons, the options of visible lists and the document's ``<title>``. Any run of two or more
Latin letters that is not in ``ALLOWED``, or English digit grouping ("20,000"), fails the test,
and the failure lists every such text once, with the element it was in and every page it was
on (also written to ``tests/e2e/artifacts/russian-walk-<how>.txt``).

Not read (docs/i18n.md "What is not translated, and why"): elements whose nearest ``lang`` is
not Russian (the provider's own words, language names in the switch), elements
marked ``translate="no"``, and code (``<code>``, ``<pre>``, ``<kbd>``, ``<samp>``: model ids,
API examples). What people type is written in Russian by the ``russian_world`` fixture.

The axe pass runs ``tests/a11y/test_axe.py``'s audit on a few pages with Russian active, at a
phone's and a laptop's width: Russian words are longer than English ones and overflow where
English fitted.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from generations.models import User
from tests.a11y.test_axe import VIEWPORTS, run_axe, settle
from tests.e2e.browser import ARTIFACTS, requires_chromium

from .conftest import USERNAMES

PASSWORD = "correct horse battery"

# Latin text that is not English to translate, removed before looking for words.
NOT_WORDS = [
    re.compile(r"https?://\S+"),  # addresses (the API's base URL, an invitation link)
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # e-mail addresses
    re.compile(r"\bseedance-[a-z0-9.-]+"),  # model ids (seedance-1-5-pro)
    re.compile(r"\baivideoapi\.ai\b"),  # a provider's name is its domain
    re.compile(r"[\w.-]+\.(mp4|png|jpe?g|webp|zip|csv)\b", re.IGNORECASE),  # file names
]
# Latin words that stay Latin in Russian, each for a reason and each met on the walk; keep this
# list short.
ALLOWED = {
    # Brand and product names (docs/i18n.md "What is not translated, and why").
    "Seedance",
    "Studio",
    "Pro",  # "Seedance 1.5 Pro", the model's name
    "APIXO",
    # Abbreviations Russian writes in Latin letters too.
    "API",
    "URL",
    "CSV",
    "ZIP",
    "MP",  # MP4
    "US",  # US$
    "UTC",  # the time zone in dates ("29 ноября 2026, 14:05 UTC")
    "REST",  # "REST API"
    "POST",  # an HTTP method, in the webhooks' description
    # File formats the upload fields take.
    "JPG",
    "PNG",
    "WebP",
    "MOV",
    "WebM",
    "Mac",  # "⌘+Enter на Mac": a brand
}
WORD = re.compile(r"[A-Za-z]{2,}")
# "20,000": English digit grouping (Russian groups with a space: "20 000"). Not "0,001", a
# Russian decimal (the footer's price of a credit); amounts of money have two decimals.
ENGLISH_GROUPING = re.compile(r"(?<![\d,])[1-9]\d{0,2}(?:,\d{3})+(?![\d,])")

# What a person reads on the page, with where it is: runs in the browser.
COLLECT = """() => {
  const CODE = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "CODE", "PRE", "KBD", "SAMP"]);
  const found = [];
  const where = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 3; e = e.parentElement) {
      let part = e.tagName.toLowerCase();
      if (e.id) { parts.unshift(part + "#" + e.id); break; }
      if (typeof e.className === "string" && e.className.trim()) {
        part += "." + e.className.trim().split(/\\s+/).slice(0, 2).join(".");
      }
      parts.unshift(part);
    }
    return parts.join(" > ");
  };
  const skipped = (el) => {
    for (let e = el; e; e = e.parentElement) {
      if (CODE.has(e.tagName) || e.getAttribute("translate") === "no") return true;
    }
    const lang = el.closest("[lang]");
    return Boolean(lang && !lang.getAttribute("lang").toLowerCase().startsWith("ru"));
  };
  const shown = (el) => el.checkVisibility({visibilityProperty: true});
  const add = (el, what, text) => {
    text = (text || "").replace(/\\s+/g, " ").trim();
    if (text) found.push({where: where(el) + (what ? " @" + what : ""), text: text});
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.tagName === "OPTION" || skipped(el) || !shown(el)) continue;
    add(el, "", node.textContent);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (skipped(el)) continue;
    if (el.tagName === "OPTION") {
      const select = el.closest("select, datalist");
      if (select && select.tagName === "SELECT" && shown(select)) add(el, "option", el.text);
      continue;
    }
    if (!shown(el)) continue;
    for (const name of ["aria-label", "aria-description", "aria-roledescription",
                        "aria-valuetext", "title", "placeholder", "alt"]) {
      if (el.hasAttribute(name)) add(el, name, el.getAttribute(name));
    }
    if (el.tagName === "INPUT" && ["submit", "button", "reset"].includes(el.type)) {
      add(el, "value", el.value);
    }
  }
  found.push({where: "title", text: document.title});
  return found;
}"""


def english_in(text: str) -> list[str]:
    """The English left in ``text``: Latin words not in ``ALLOWED``, English digit groups."""
    for pattern in NOT_WORDS:
        text = pattern.sub(" ", text)
    words = [word for word in WORD.findall(text) if word not in ALLOWED]
    return words + ENGLISH_GROUPING.findall(text)


@dataclass
class Walk:
    """One walk's findings: (page, where, text, the English in it), each once."""

    findings: dict

    def look(self, page, label: str) -> None:
        """Read the page as it stands and keep what is still English."""
        settle(page)
        lang = page.evaluate("document.documentElement.lang")
        if lang != "ru":
            self.findings[(label, "html @lang", lang)] = [f"lang={lang}"]
        for item in page.evaluate(COLLECT):
            english = english_in(item["text"])
            key = (label, item["where"], item["text"][:200])
            if english and key not in self.findings:
                self.findings[key] = english

    def texts(self) -> dict[str, dict]:
        """Each English text once: its words, the element it was first seen in, its pages."""
        texts: dict[str, dict] = {}
        for (label, where, text), english in self.findings.items():
            # "of #3" and "of #4" are one text: the same string with another job's number.
            key = re.sub(r"\d+", "N", text)
            seen = texts.setdefault(
                key, {"text": text, "where": where, "english": english, "pages": []}
            )
            if label not in seen["pages"]:
                seen["pages"].append(label)
        return texts

    def report(self) -> str:
        return "\n".join(
            f"{seen['text']!r}  [{', '.join(seen['english'])}]\n"
            f"    at {seen['where']}\n    on {'; '.join(seen['pages'])}"
            for seen in self.texts().values()
        )


def send(page, selector: str = "main form[method=post] button[type=submit]") -> None:
    with page.expect_navigation():
        page.locator(selector).last.click()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}{reverse('login')}")
    page.fill("input[name=username]", USERNAMES.get(username, username))
    page.fill("input[name=password]", PASSWORD)
    send(page, "main button[type=submit]")
    assert page.url == f"{base}/", f"{username} could not sign in"


def walk_visitor(walk: Walk, page, base: str, world) -> None:
    """The pages of someone not signed in: log-in (and its errors), password reset, the
    invitation, the lockout."""
    page.goto(base + reverse("login"))
    walk.look(page, "log-in")
    page.fill("input[name=username]", USERNAMES["ana"])
    page.fill("input[name=password]", "not the password")
    send(page)
    walk.look(page, "log-in, wrong password")
    page.goto(base + reverse("password_reset"))
    walk.look(page, "password reset")
    page.fill("input[name=email]", "not an address")
    page.locator("input[name=email]").evaluate("input => input.type = 'text'")
    send(page)
    walk.look(page, "password reset, errors")
    page.fill("input[name=email]", "nobody@example.com")
    send(page)
    walk.look(page, "password reset, sent")
    page.goto(base + reverse("password_reset_confirm", args=["MQ", "set-password"]))
    walk.look(page, "password reset, bad link")
    page.goto(base + reverse("password_reset_complete"))
    walk.look(page, "password reset, done")
    page.goto(base + world.invitation_path)
    walk.look(page, "invitation")
    send(page)
    walk.look(page, "invitation, errors")
    page.goto(base + reverse("login"))
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        page.fill("input[name=username]", "взломщик")
        page.fill("input[name=password]", "guess")
        send(page)
    assert page.locator("main form input[name=password]").count() == 0, "no lockout page"
    walk.look(page, "lockout")


def walk_gallery(walk: Walk, page, base: str, world) -> None:
    """The gallery with jobs: each filter dropdown open, a card selected (the bulk bar), the
    delete dialog, the lightbox; then the hidden view and a search that finds nothing."""
    page.goto(base + reverse("generations:list"))
    walk.look(page, "gallery")
    page.locator("header nav details.dropdown > summary").last.click()
    walk.look(page, "gallery, user menu open")
    page.locator("header nav details.dropdown > summary").last.click()
    summaries = page.locator("form.gallery-toolbar details > summary")
    for index in range(summaries.count()):
        summaries.nth(index).click()
        walk.look(page, "gallery, filter dropdown open")
        summaries.nth(index).click()
    page.locator("input[data-bulk-id]").first.check()
    walk.look(page, "gallery, bulk bar")
    page.select_option("#bulk-form select[name=action]", "delete")
    page.locator("#bulk-form button[type=submit]").click()
    page.locator("#bulk-delete-dialog").wait_for(state="visible")
    walk.look(page, "gallery, delete dialog")
    page.keyboard.press("Escape")
    page.locator("#bulk-delete-dialog").wait_for(state="hidden")
    page.locator("[data-lightbox]").first.click()
    page.wait_for_function("document.getElementById('lightbox').open")
    walk.look(page, "gallery, lightbox")
    page.keyboard.press("Escape")
    page.goto(base + reverse("generations:list") + "?hidden=1")
    walk.look(page, "gallery, hidden videos")
    page.goto(
        base
        + reverse("generations:list")
        + "?q=ничего+похожего&state=succeeded&from=2020-01-01&sort=неведомо"
    )
    walk.look(page, "gallery, filters, one not understood, no match")
    page.goto(base + reverse("generations:bulk_delete") + f"?ids={world.finished.pk}")
    walk.look(page, "delete videos, confirmation")


def walk_member(walk: Walk, page, base: str, world) -> None:
    """A member's pages (ана): gallery, library, the form in every mode and with errors,
    a finished and a failed job, usage, profile."""
    walk_gallery(walk, page, base, world)
    page.goto(base + reverse("generations:library"))
    walk.look(page, "team library")
    new = base + reverse("generations:new")
    for mode in ("text-to-video", "image-to-video", "video-extend"):
        page.goto(f"{new}?mode={mode}")
        walk.look(page, f"new video, {mode}")
        send(page, "#submit-button")
        assert page.locator(".errorlist").count(), f"no errors shown for {mode}"
        walk.look(page, f"new video, {mode}, errors")
    page.goto(f"{new}?extend={world.finished.pk}")
    walk.look(page, "new video, extend a finished job")
    page.goto(f"{new}?again={world.extension.pk}")
    walk.look(page, "new video, again on an extension")
    page.fill("textarea[name=prompt]", "туманная гавань на рассвете, " * 100)
    page.wait_for_function("!document.getElementById('prompt-over').hidden")
    walk.look(page, "new video, prompt over the limit")
    for job, label in ((world.finished, "succeeded"), (world.failed, "failed")):
        page.goto(base + reverse("generations:detail", args=[job.pk]))
        walk.look(page, f"detail, {label}")
    page.goto(base + reverse("generations:detail", args=[world.extension.pk]))
    walk.look(page, "detail, an extension")
    page.goto(base + reverse("generations:usage"))
    walk.look(page, "usage")
    page.goto(base + reverse("profile"))
    walk.look(page, "profile")
    send(page, "#token-form button[type=submit]")
    walk.look(page, "profile, a new API token")
    page.goto(base + reverse("password_change"))
    page.fill("input[name=old_password]", "не мой пароль")
    page.fill("input[name=new_password1]", "short")
    page.fill("input[name=new_password2]", "other")
    send(page)
    walk.look(page, "change password, errors")
    page.goto(base + reverse("password_change_done"))
    walk.look(page, "password changed")


def walk_newbie(walk: Walk, page, base: str) -> None:
    """A member with no jobs and no credits: the empty gallery, and asking for credits."""
    page.goto(base + reverse("generations:list"))
    walk.look(page, "gallery without jobs")
    page.goto(base + reverse("generations:new"))
    page.fill("textarea[name=prompt]", "туманная гавань на рассвете")
    page.wait_for_function("!document.getElementById('price-blocked').hidden")
    walk.look(page, "new video, over the balance")
    page.locator("#ask-manager").click()
    page.wait_for_function("document.getElementById('ask-manager-sent').textContent.trim()")
    walk.look(page, "new video, credits asked for")


def walk_manager(walk: Walk, page, base: str) -> None:
    """A manager's pages (борис): team members, team spend, audit log, API tokens."""
    for name, label in (
        ("team:members", "team members"),
        ("generations:team_spend", "team spend"),
        ("team:audit", "audit log"),
        ("team:tokens", "team API tokens"),
    ):
        page.goto(base + reverse(name))
        walk.look(page, label)


@dataclass(frozen=True)
class Russian:
    """How the pages come to be Russian: the browser's language, or the users' saved one."""

    locale: str
    saved: str
    visitors: bool  # a visitor's pages follow the browser only


HOW = {
    "browser": Russian(locale="ru-RU", saved="", visitors=True),
    "saved": Russian(locale="en-US", saved="ru", visitors=False),
}


@requires_chromium
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", HOW)
def test_no_english_is_left_on_russian_pages(live_server, russian_world, chromium, settings, how):
    russian = HOW[how]
    settings.AXES_ENABLED = True  # for the lockout page
    User.objects.update(language=russian.saved)
    walk = Walk(findings={})
    base = live_server.url

    def signed_in(username: str | None) -> object:
        context = chromium.new_context(
            locale=russian.locale, viewport=VIEWPORTS["laptop"], color_scheme="light"
        )
        context.set_default_timeout(20_000)
        page = context.new_page()
        if username:
            log_in(page, base, username)
        return page

    steps: list[tuple[str | None, Callable]] = [
        ("ana", lambda page: walk_member(walk, page, base, russian_world)),
        ("newbie", lambda page: walk_newbie(walk, page, base)),
        ("boss", lambda page: walk_manager(walk, page, base)),
    ]
    if russian.visitors:
        steps.append((None, lambda page: walk_visitor(walk, page, base, russian_world)))
    for username, step in steps:
        page = signed_in(username)
        try:
            step(page)
        finally:
            page.context.close()
    report = walk.report()
    if report:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"russian-walk-{how}.txt").write_text(report + "\n")
    assert not walk.findings, (
        f"{len(walk.texts())} English texts on Russian pages ({how}):\n{report}"
    )


def test_the_walk_finds_english_and_passes_what_is_not():
    """The check has teeth, and what it lets through is what it means to."""
    assert english_in("Назад к галерее") == []
    assert english_in("Seedance 1.5 Pro · 720p · 5 секунд · US$0,001 · MP4") == []
    assert english_in("seedance-1-5-pro, aivideoapi.ai, ana@example.com, a11y.mp4") == []
    assert english_in("https://studio.example.com/api/v1/") == []
    assert english_in("Сохранить Save") == ["Save"]
    assert english_in("3 minutes ago") == ["minutes", "ago"]
    assert english_in("Баланс: 20,000 кредитов") == ["20,000"]


AXE_PAGES = [
    ("login", None, lambda w: reverse("login"), None),
    ("gallery", "ana", lambda w: reverse("generations:list"), None),
    ("new video, errors", "ana", lambda w: reverse("generations:new"), "#submit-button"),
    (
        "detail, succeeded",
        "ana",
        lambda w: reverse("generations:detail", args=[w.finished.pk]),
        None,
    ),
    ("detail, failed", "ana", lambda w: reverse("generations:detail", args=[w.failed.pk]), None),
    ("usage", "ana", lambda w: reverse("generations:usage"), None),
    ("team spend", "boss", lambda w: reverse("generations:team_spend"), None),
]


@requires_chromium
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_russian_pages_pass_axe(live_server, russian_world, chromium, viewport):
    """Axe on a few Russian pages (tests/a11y/test_axe.py checks them all in English)."""
    failures = []
    pages = {}
    try:
        for label, username, path, submit in AXE_PAGES:
            if username not in pages:
                context = chromium.new_context(
                    locale="ru-RU", viewport=VIEWPORTS[viewport], color_scheme="light"
                )
                context.set_default_timeout(20_000)
                pages[username] = context.new_page()
                if username:
                    log_in(pages[username], live_server.url, username)
            page = pages[username]
            page.goto(live_server.url + path(russian_world))
            if submit:
                send(page, submit)
            settle(page)
            assert page.evaluate("document.documentElement.lang") == "ru", page.url
            violations = run_axe(page)
            if violations:
                failures.append((label, page.url, violations))
                ARTIFACTS.mkdir(exist_ok=True)
                shot = f"axe-ru-{viewport}-{label.replace(' ', '_').replace(',', '')}.png"
                page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    finally:
        for page in pages.values():
            page.context.close()
    report = "\n".join(
        f"{label} {url}\n"
        + "\n".join(
            f"  [{v['impact']}] {v['id']}: {v['help']} ({v['count']} nodes)\n"
            + "\n".join(
                f"      {n['target']}: {n['html']}\n        {n['summary']}" for n in v["nodes"]
            )
            for v in violations
        )
        for label, url, violations in failures
    )
    width = VIEWPORTS[viewport]["width"]
    assert not failures, f"{len(failures)} Russian pages fail axe at {width} px:\n{report}"
