// Live updates for every page of a signed-in member (issue #14 item 3, issue #19).
//
// The visible tab asks /generations/updates/?since=<cursor> which of the member's jobs changed:
// every 0.75 s while jobs run, every 15 s otherwise; a hidden tab does not ask (unless desktop notifications are on, below), and
// catches up (from its cursor) when it is shown again. Only the elements of jobs that changed
// are fetched again (data-live: a gallery card or the detail page's status panel), so a job's
// final state shows within a second without every tab re-fetching every card.
//
// A job whose state changes is announced once, politely, in #live-announcer (base.html): the
// server words it in data-status-text, and an unchanged text is never announced, so screen
// readers hear the changes, not every poll. A job that ends while its card is not on the page
// gets a small toast with a link. The tab's title counts the jobs still running.
//
// Desktop notifications (issue #15 item 5), opt-in per device: the user menu's "Notify me on
// this device" asks the browser's permission when clicked (never on page load) and stores
// the choice in localStorage. With it on, a hidden tab keeps asking every HIDDEN_MS and a
// job that succeeds or fails while the tab is hidden shows a Notification; clicking it opens
// the job. The tag is the job's, so several open tabs show one notification per job.
(function () {
  "use strict";
  // Django's JavaScript catalog (/jsi18n/, loaded by base.html; docs/i18n.md); English if absent.
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate
    || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));
  const LANGUAGE = document.documentElement.lang || "en";
  // Periods run from the start of one ask to the start of the next. A change waits for the
  // next ask (up to FAST_MS), then its card is fetched and painted (about 0.1 s): 750 ms keeps
  // the final state on screen within a second of the commit (benchmarks/browser_latency.py;
  // a 1 s gap after each ask gave a p95 of 1.1 s). MIN_GAP_MS spaces the asks when the
  // server is slower than the period.
  const FAST_MS = 750;
  const SLOW_MS = 15000;
  const HIDDEN_MS = 5000;
  const MIN_GAP_MS = 250;
  // After a failed ask (offline, a restart, an error answer) the next waits twice as long as
  // the last, up to BACKOFF_MAX_MS, or what Retry-After says: no tab hammers a server that
  // is already struggling.
  const BACKOFF_MAX_MS = 60000;
  const NOTIFY_KEY = "notify-desktop";
  const PENDING_KEY = "live-announcement";
  const FINAL = new Set(["succeeded", "failed", "canceled", "expired"]);
  const body = document.body;
  const updatesUrl = body.dataset.updatesUrl;
  const announcer = document.getElementById("live-announcer");
  const baseTitle = document.title;
  // The page's render time: the server also lists changes from a few seconds before it (a
  // change that committed while the page rendered), fetched again to be sure; cheap.
  let cursor = body.dataset.updatesSince || "";
  let backoff = 0; // ms the last failed ask waited before the next; 0 after a good answer
  let ticks = 0;
  let timer = null;
  // Each answer's cards are fetched in turn, after the previous answer's, while the next ask
  // leaves on time.
  let applying = Promise.resolve();
  const seen = new Map(); // job id -> the "updated" time already acted on

  function announce(text, round = ticks) {
    if (!announcer || !text) return;
    // Several jobs settling in one tick (round) are read together.
    announcer.textContent = announcer.dataset.tick === String(round)
      ? `${announcer.textContent} ${text}` : text;
    announcer.dataset.tick = String(round);
  }

  async function refreshCredits() {
    const url = body.dataset.creditsUrl;
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

  // Fetch one live element again; return {settled, news} (news: its new status text, if any).
  async function refresh(element) {
    const response = await fetch(element.dataset.live, { headers: { "X-Requested-With": "fetch" } });
    if (!response.ok) return { settled: false, news: "" };
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    const settled = fresh.dataset.state !== element.dataset.state || !fresh.dataset.live;
    const news = fresh.dataset.statusText !== element.dataset.statusText ? fresh.dataset.statusText : "";
    replaceKeepingFocus(element, fresh);
    return { settled, news };
  }

  function toast(job) {
    let box = document.getElementById("toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "toasts";
      box.className = "toasts";
      box.setAttribute("role", "status");
      body.appendChild(box);
    }
    const note = document.createElement("p");
    note.className = `toast toast-${job.state}`;
    const link = document.createElement("a");
    link.href = job.url;
    link.textContent = interpolate(gettext("Generation #%(id)s"), { id: job.id }, true);
    const refunded = {
      failed: gettext("failed, refunded"),
      canceled: gettext("canceled, refunded"),
      expired: gettext("expired, refunded"),
    };
    const what = job.state === "succeeded"
      ? (job.result_state === "stored" ? gettext("video ready") : gettext("succeeded"))
      : refunded[job.state] || `${job.state}, ${gettext("refunded")}`;
    note.append(link, `: ${what}. `);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.textContent = gettext("Dismiss");
    close.addEventListener("click", () => note.remove());
    note.append(close);
    box.appendChild(note);
    setTimeout(() => note.remove(), 15000);
  }

  // --- Desktop notifications ------------------------------------------------------------
  const canNotify = "Notification" in window;
  function notifying() {
    return canNotify && Notification.permission === "granted"
      && localStorage.getItem(NOTIFY_KEY) === "1";
  }
  function notify(job) {
    const refunded = {
      failed: gettext("failed; the credits were refunded"),
      canceled: gettext("canceled; the credits were refunded"),
      expired: gettext("expired; the credits were refunded"),
    };
    const what = job.state === "succeeded"
      ? (job.result_state === "stored" ? gettext("your video is ready") : gettext("succeeded"))
      : refunded[job.state] || `${job.state}; ${gettext("the credits were refunded")}`;
    try {
      const title = interpolate(gettext("Generation #%(id)s: %(what)s"), { id: job.id, what: what }, true);
      const note = new Notification(title, {
        tag: `generation-${job.id}`, body: "Seedance Studio",
      });
      note.onclick = () => { window.focus(); window.location.href = job.url; note.close(); };
    } catch (error) { /* a browser that only notifies from a service worker: the toast stays */ }
  }
  function showOptIn(button) {
    const on = notifying();
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? gettext("Notifications on for this device")
      : (canNotify && Notification.permission === "denied"
        ? gettext("Notifications are blocked in this browser's settings") : gettext("Notify me on this device"));
  }
  document.querySelectorAll("[data-notify-optin]").forEach((button) => {
    if (!canNotify) return;
    button.hidden = false;
    showOptIn(button);
    button.addEventListener("click", async () => {
      if (notifying()) {
        localStorage.removeItem(NOTIFY_KEY);
      } else {
        const answer = await Notification.requestPermission();
        if (answer === "granted") localStorage.setItem(NOTIFY_KEY, "1");
      }
      showOptIn(button);
    });
  });

  function liveElementsOf(id) {
    return Array.from(document.querySelectorAll(`[data-live][data-generation="${id}"]`));
  }

  async function apply(update, round) {
    document.title = update.running
      ? `${interpolate(ngettext("(%(count)s running)", "(%(count)s running)", update.running), { count: update.running }, true)} ${baseTitle}`
      : baseTitle;
    const fresh = update.changed.filter((job) => seen.get(job.id) !== job.updated);
    if (!fresh.length) return;
    fresh.forEach((job) => seen.set(job.id, job.updated));
    if (document.visibilityState === "hidden" && notifying()) {
      fresh.filter((job) => job.final && (job.state === "succeeded" || job.state === "failed"))
        .forEach(notify);
    }
    let settled = false;
    let reload = false;
    let toasts = 0;
    const news = [];
    await Promise.all(fresh.map(async (job) => {
      const elements = liveElementsOf(job.id);
      if (!elements.length && job.final && FINAL.has(job.state)
          && !document.querySelector(`[data-generation="${job.id}"]`)) {
        settled = true;
        if (toasts < 3) toast(job); // a tab shown again after a while: the newest three
        toasts += 1;
        return;
      }
      await Promise.all(elements.map(async (element) => {
        try {
          const result = await refresh(element);
          settled = settled || result.settled;
          reload = reload || (result.settled && element.hasAttribute("data-reload-on-settle"));
          if (result.news) news.push(result.news);
        } catch (error) { /* the next change retries */ }
      }));
    }));
    if (reload) {
      // The detail page's timings and ledger entries change too: show them all, and say why
      // once the page is back.
      if (news.length) sessionStorage.setItem(PENDING_KEY, news.join(" "));
      window.location.reload();
      return;
    }
    news.forEach((text) => announce(text, round));
    if (settled) await refreshCredits();
  }

  async function tick() {
    timer = null;
    const hidden = document.visibilityState !== "visible";
    if (hidden && !notifying()) return; // resumed by visibilitychange
    const started = Date.now();
    ticks += 1;
    const round = ticks;
    let running = 0;
    let failed = false;
    let retryAfter = 0;
    try {
      const url = cursor ? `${updatesUrl}?since=${encodeURIComponent(cursor)}` : updatesUrl;
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const update = await response.json();
        cursor = update.cursor;
        running = update.running;
        applying = applying.then(() => apply(update, round)).catch(() => {});
      } else {
        failed = true;
        retryAfter = 1000 * (parseInt(response.headers.get("Retry-After") || "0", 10) || 0);
      }
    } catch (error) { failed = true; /* offline or restarting: retried after a back-off */ }
    if (failed) {
      backoff = Math.min(BACKOFF_MAX_MS, Math.max(retryAfter, backoff ? backoff * 2 : FAST_MS * 2));
      schedule(backoff);
      return;
    }
    backoff = 0;
    const busy = running > 0 || document.querySelector("[data-live]");
    const period = hidden ? HIDDEN_MS : (busy ? FAST_MS : SLOW_MS);
    schedule(Math.max(MIN_GAP_MS, period - (Date.now() - started)));
  }

  function schedule(delay) {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(tick, delay);
  }

  const pending = sessionStorage.getItem(PENDING_KEY);
  if (pending) {
    sessionStorage.removeItem(PENDING_KEY);
    // After the page has loaded, so the live region is in place before its text changes.
    setTimeout(() => announce(pending), 500);
  }
  if (!updatesUrl) return;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") schedule(0);
  });
  schedule(FAST_MS); // then every 0.75 s while jobs run, else every 15 s
})();
