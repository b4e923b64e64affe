// Live updates: every element with data-live is re-fetched until its job is final.
// A job whose state changes is announced once, politely, in #live-announcer (base.html):
// the server words it in data-status-text, and an unchanged text is never announced, so
// screen readers hear the changes, not every poll (issue #19).
(function () {
  "use strict";
  const INTERVAL_MS = 2000;
  const PENDING_KEY = "live-announcement";
  const announcer = document.getElementById("live-announcer");

  function announce(text) {
    if (!announcer || !text) return;
    // Several jobs settling in one tick are read together.
    announcer.textContent = announcer.dataset.tick === String(ticks)
      ? `${announcer.textContent} ${text}` : text;
    announcer.dataset.tick = String(ticks);
  }

  async function refreshCredits() {
    const url = document.body.dataset.creditsUrl;
    const bar = document.getElementById("credits-bar");
    if (!url || !bar) return;
    const response = await fetch(url);
    if (response.ok) bar.outerHTML = await response.text();
  }

  // Replacing an element drops the focus inside it: give it to the same control in the fresh copy.
  function replaceKeepingFocus(element, fresh) {
    const focused = element.contains(document.activeElement) ? document.activeElement : null;
    const controls = focused ? Array.from(element.querySelectorAll("a[href], button, video[controls]")) : [];
    const index = controls.indexOf(focused);
    element.replaceWith(fresh);
    if (!focused) return;
    const same = Array.from(fresh.querySelectorAll("a[href], button, video[controls]"));
    const target = (focused.getAttribute("href") && same.find((c) => c.getAttribute("href") === focused.getAttribute("href")))
      || same[Math.min(index, same.length - 1)];
    if (target) target.focus();
  }

  let ticks = 0;
  async function tick() {
    ticks += 1;
    const live = document.querySelectorAll("[data-live]");
    let settled = false;
    const news = [];
    await Promise.all(Array.from(live).map(async (element) => {
      try {
        const response = await fetch(element.dataset.live, { headers: { "X-Requested-With": "fetch" } });
        if (!response.ok) return;
        const template = document.createElement("template");
        template.innerHTML = (await response.text()).trim();
        const fresh = template.content.firstElementChild;
        if (fresh.dataset.state !== element.dataset.state || !fresh.dataset.live) settled = true;
        if (fresh.dataset.statusText !== element.dataset.statusText) news.push(fresh.dataset.statusText);
        replaceKeepingFocus(element, fresh);
      } catch (error) { /* the next tick retries */ }
    }));
    if (settled && document.querySelector("[data-reload-on-settle]")) {
      // The detail page's timings and ledger entries change too: show them all, and say why
      // once the page is back.
      if (news.length) sessionStorage.setItem(PENDING_KEY, news.join(" "));
      window.location.reload();
      return;
    }
    news.forEach(announce);
    if (settled) await refreshCredits();
    if (document.querySelector("[data-live]")) setTimeout(tick, INTERVAL_MS);
  }

  const pending = sessionStorage.getItem(PENDING_KEY);
  if (pending) {
    sessionStorage.removeItem(PENDING_KEY);
    // After the page has loaded, so the live region is in place before its text changes.
    setTimeout(() => announce(pending), 500);
  }
  if (document.querySelector("[data-live]")) setTimeout(tick, INTERVAL_MS);
})();
