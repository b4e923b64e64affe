// Live updates: every element with data-live is re-fetched until its job is final.
(function () {
  "use strict";
  const INTERVAL_MS = 2000;

  async function refreshCredits() {
    const url = document.body.dataset.creditsUrl;
    const bar = document.getElementById("credits-bar");
    if (!url || !bar) return;
    const response = await fetch(url);
    if (response.ok) bar.outerHTML = await response.text();
  }

  async function tick() {
    const live = document.querySelectorAll("[data-live]");
    let settled = false;
    await Promise.all(Array.from(live).map(async (element) => {
      try {
        const response = await fetch(element.dataset.live, { headers: { "X-Requested-With": "fetch" } });
        if (!response.ok) return;
        const template = document.createElement("template");
        template.innerHTML = (await response.text()).trim();
        const fresh = template.content.firstElementChild;
        if (fresh.dataset.state !== element.dataset.state || !fresh.dataset.live) settled = true;
        element.replaceWith(fresh);
      } catch (error) { /* the next tick retries */ }
    }));
    if (settled && document.querySelector("[data-reload-on-settle]")) {
      // The detail page's timings and ledger entries change too: show them all.
      window.location.reload();
      return;
    }
    if (settled) await refreshCredits();
    if (document.querySelector("[data-live]")) setTimeout(tick, INTERVAL_MS);
  }

  if (document.querySelector("[data-live]")) setTimeout(tick, INTERVAL_MS);
})();
