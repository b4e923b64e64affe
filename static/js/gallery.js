// The gallery's enhancements (issue #15). Without this script every card still shows its
// poster and a native player, links to its detail page and offers a download.
// - Preview: a card's video plays, muted, while the pointer is over it or focus is in its
//   card, and stops when they leave (not with prefers-reduced-motion).
// - Lightbox: a card's poster (a link to its detail page) opens the <dialog id="lightbox">; the arrow keys move between the
//   page's videos, Esc closes (the dialog's own behaviour), focus goes back to the card.
// Cards are replaced by static/js/live.js as jobs settle, so every listener is delegated.
(function () {
  "use strict";
  const gallery = document.getElementById("gallery");
  if (!gallery) return;
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  // Controls that only work with this script are rendered hidden.
  function reveal(root) {
    root.querySelectorAll("[data-copy-prompt][hidden]").forEach((el) => { el.hidden = false; });
  }
  reveal(gallery);
  new MutationObserver((records) => records.forEach((record) => record.addedNodes.forEach((node) => {
    if (node.nodeType === Node.ELEMENT_NODE) reveal(node);
  }))).observe(gallery, { childList: true });

  // --- Preview on hover or focus ---------------------------------------------------------
  function startPreview(video) {
    if (!video || reducedMotion.matches || !video.paused) return;
    video.dataset.previewing = "1";
    video.muted = true;
    video.play().catch(() => { delete video.dataset.previewing; });
  }
  function stopPreview(video) {
    if (!video || !video.dataset.previewing) return;
    delete video.dataset.previewing;
    video.pause();
  }
  const previewOf = (target) => target.closest && target.closest("article")?.querySelector("video[data-preview]");
  gallery.addEventListener("pointerover", (event) => {
    if (event.pointerType === "mouse") startPreview(previewOf(event.target));
  });
  gallery.addEventListener("pointerout", (event) => {
    const card = event.target.closest && event.target.closest("article");
    if (card && !card.contains(event.relatedTarget) && !card.contains(document.activeElement)) {
      stopPreview(previewOf(event.target));
    }
  });
  gallery.addEventListener("focusin", (event) => startPreview(previewOf(event.target)));
  gallery.addEventListener("focusout", (event) => {
    const card = event.target.closest("article");
    if (card && !card.contains(event.relatedTarget)) stopPreview(previewOf(event.target));
  });

  // --- Lightbox --------------------------------------------------------------------------
  const dialog = document.getElementById("lightbox");
  if (!dialog || typeof dialog.showModal !== "function") return;
  const player = dialog.querySelector("video");
  const title = dialog.querySelector("#lightbox-title");
  const detail = dialog.querySelector("[data-lightbox-detail]");
  const download = dialog.querySelector("[data-lightbox-download]");
  let current = null;
  let opener = null;

  const openers = () => Array.from(gallery.querySelectorAll("[data-lightbox]"));

  function show(button) {
    current = button;
    const data = button.dataset;
    title.textContent = data.title;
    // A team library card of another member has no detail page (data-detail="").
    detail.hidden = !data.detail;
    detail.href = data.detail || "#";
    download.href = `${data.src}?download=1`;
    if (data.poster) player.poster = data.poster; else player.removeAttribute("poster");
    player.src = data.src;
    player.play().catch(() => { /* autoplay refused: the controls are there */ });
    const list = openers();
    const index = list.indexOf(button);
    dialog.querySelector('[data-lightbox-move="-1"]').disabled = index <= 0;
    dialog.querySelector('[data-lightbox-move="1"]').disabled = index >= list.length - 1;
    dialog.dataset.index = String(index);
  }

  function move(step) {
    const list = openers();
    const next = list[list.indexOf(current) + step];
    if (next) show(next);
  }

  gallery.addEventListener("click", (event) => {
    const button = event.target.closest("[data-lightbox]");
    if (!button || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    opener = button;
    gallery.querySelectorAll("video[data-preview]").forEach((video) => { video.dataset.previewing = "1"; stopPreview(video); });
    show(button);
    dialog.showModal();
  });
  dialog.addEventListener("click", (event) => {
    const control = event.target.closest("[data-lightbox-move], [data-lightbox-close]");
    if (event.target === dialog || (control && control.matches("[data-lightbox-close]"))) {
      dialog.close();
    } else if (control) {
      move(Number(control.dataset.lightboxMove));
    }
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      move(event.key === "ArrowLeft" ? -1 : 1);
    }
  });
  dialog.addEventListener("close", () => {
    player.pause();
    player.removeAttribute("src");
    player.load();
    // Back to the card that is showing now (the one opened, or the one moved to).
    // After the dialog's own focus restoring, which gives it back to the opener.
    const target = (current && current.isConnected) ? current : opener;
    setTimeout(() => { if (target && target.isConnected) target.focus(); }, 0);
    current = null;
  });
})();

// Card actions and live figures (issue #15 item 2): copy the prompt, favourite without a
// page load, the elapsed time of a job in flight ("(N running)" in the tab's title is
// static/js/live.js's, on every page).
(function () {
  "use strict";
  const gallery = document.getElementById("gallery");
  if (!gallery) return;
  const announcer = document.getElementById("live-announcer");
  // Django's JavaScript catalog (/jsi18n/, loaded by base.html; docs/i18n.md); English if absent.
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate
    || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));
  const LANGUAGE = document.documentElement.lang || "en";

  gallery.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy-prompt]");
    if (!button) return;
    const prompt = button.closest("article").querySelector(".prompt").textContent.trim();
    try {
      await navigator.clipboard.writeText(prompt);
      if (announcer) announcer.textContent = gettext("Prompt copied.");
      button.dataset.copied = "1";
      setTimeout(() => { delete button.dataset.copied; }, 2000);
    } catch (error) {
      if (announcer) announcer.textContent = gettext("The prompt could not be copied.");
    }
  });

  gallery.addEventListener("submit", async (event) => {
    const form = event.target.closest(".favourite-form");
    if (!form) return;
    event.preventDefault();
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      const { favourite } = await response.json();
      form.querySelector("[name=favourite]").value = favourite ? "0" : "1";
      form.querySelector("[aria-pressed]").setAttribute("aria-pressed", String(favourite));
      form.querySelector("[data-star]").textContent = favourite ? "★" : "☆";
    } catch (error) {
      form.submit(); // the plain form's way: a redirect back here
    }
  });

  function elapsed(since) {
    const seconds = Math.max(0, Math.floor((Date.now() - since) / 1000));
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const rest = String(seconds % 60).padStart(2, "0");
    return hours
      ? interpolate(gettext("%(hours)s h %(minutes)s min"), { hours, minutes: String(minutes).padStart(2, "0") }, true)
      : interpolate(gettext("%(minutes)s min %(seconds)s s"), { minutes, seconds: rest }, true);
  }
  function tickElapsed() {
    gallery.querySelectorAll("[data-elapsed-since]").forEach((time) => {
      const since = Date.parse(time.getAttribute("datetime"));
      if (!Number.isNaN(since)) time.textContent = elapsed(since);
    });
  }
  tickElapsed();
  setInterval(tickElapsed, 1000);

  // A card replaced by static/js/live.js starts its elapsed time at once.
  new MutationObserver(tickElapsed).observe(gallery, { childList: true });
})();

// The toolbar (issue #15 item 3, docs/gallery.md "Filters and sort"): without this script
// its Apply button sends the form; with it, every chip, date and sort change sends it at once
// (the search box on Enter, as any search form), and the button is not needed.
(function () {
  "use strict";
  document.querySelectorAll("form[data-auto-submit]").forEach((form) => {
    const apply = form.querySelector("[data-filter-submit]");
    if (apply) apply.hidden = true;
    // Leave empty fields and the default order out of the URL: "?state=failed", not
    // "?q=&state=failed&from=&to=&sort=newest" (the server reads both the same).
    form.addEventListener("submit", () => {
      Array.from(form.elements).forEach((el) => {
        if (!el.name || el.type === "checkbox") return;
        if (el.value === "" || (el.name === "sort" && el.value === "newest")) el.disabled = true;
      });
    });
    // Back to this page from the browser's cache: the fields work again.
    window.addEventListener("pageshow", () => {
      Array.from(form.elements).forEach((el) => { if (el.name) el.disabled = false; });
    });
    form.addEventListener("change", (event) => {
      if (event.target.matches("input[type=search]")) return;
      if (event.target.matches("input[type=date]") && event.target.value && !event.target.checkValidity()) return;
      form.requestSubmit();
    });
  });
})();
