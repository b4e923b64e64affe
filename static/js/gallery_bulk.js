// Bulk selection in the gallery (issue #15 item 4; docs/storage.md "Bulk actions").
// Without this script the cards' checkboxes and the bar's action select and Apply button
// work as a plain form. With it: shift-click ticks or clears the range from the last
// clicked card, "Select all on this page", the "N selected" count, and a <dialog> asking
// before a delete (the confirmation page otherwise). A card that static/js/live.js
// replaces keeps its tick.
(function () {
  "use strict";
  const form = document.getElementById("bulk-form");
  if (!form) return;
  const gallery = document.getElementById("gallery");
  const all = form.querySelector("[data-bulk-all]");
  const count = form.querySelector("[data-bulk-count]");
  const selected = new Set();
  let anchor = null;
  // Django's JavaScript catalog (/jsi18n/, loaded by base.html; docs/i18n.md); English if absent.
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate
    || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));
  const LANGUAGE = document.documentElement.lang || "en";

  const boxes = () => Array.from(document.querySelectorAll("input[data-bulk-id][form=bulk-form]"));

  function render() {
    const list = boxes();
    list.forEach((box) => {
      box.checked = selected.has(box.value);
      const card = box.closest("article");
      if (card) card.toggleAttribute("data-selected", box.checked);
    });
    const n = list.filter((box) => box.checked).length;
    count.textContent = interpolate(
      ngettext("%(count)s selected", "%(count)s selected", n), { count: n.toLocaleString(LANGUAGE) }, true);
    form.toggleAttribute("data-selected", n > 0);
    if (all) {
      all.checked = n > 0 && n === list.length;
      all.indeterminate = n > 0 && n < list.length;
    }
  }

  if (gallery) {
    all.closest("label").hidden = false;
    count.hidden = false;
    boxes().forEach((box) => { if (box.checked) selected.add(box.value); });
    gallery.addEventListener("click", (event) => {
      const box = event.target.closest && event.target.closest("input[data-bulk-id]");
      if (!box) return;
      const list = boxes();
      if (event.shiftKey && anchor && list.includes(anchor) && anchor !== box) {
        const [from, to] = [list.indexOf(anchor), list.indexOf(box)].sort((a, b) => a - b);
        list.slice(from, to + 1).forEach((each) => {
          if (box.checked) selected.add(each.value); else selected.delete(each.value);
        });
      } else if (box.checked) {
        selected.add(box.value);
      } else {
        selected.delete(box.value);
      }
      anchor = box;
      render();
    });
    all.addEventListener("change", () => {
      boxes().forEach((box) => { if (all.checked) selected.add(box.value); else selected.delete(box.value); });
      render();
    });
    new MutationObserver(render).observe(gallery, { childList: true });
    render();
  }

  // Ask before deleting: the dialog posts confirmed=1; without it the server shows a page.
  const dialog = document.getElementById("bulk-delete-dialog");
  form.addEventListener("submit", (event) => {
    const n = boxes().filter((box) => box.checked).length;
    if (gallery && n === 0) {
      event.preventDefault();
      const announcer = document.getElementById("live-announcer");
      const message = gettext("Select at least one video first.");
      if (announcer) announcer.textContent = message;
      count.textContent = message;
      return;
    }
    // Generate again holds credits: one click, one submission (the server's token guards too).
    if (form.elements.action.value === "again") {
      const apply = form.querySelector("button[type=submit]");
      apply.setAttribute("aria-busy", "true");
      setTimeout(() => { apply.disabled = true; }, 0);
    }
    if (form.elements.action.value !== "delete" || form.elements.confirmed
        || !dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    dialog.querySelector("[data-bulk-delete-count]").textContent = interpolate(
      ngettext("%(count)s video", "%(count)s videos", n), { count: n.toLocaleString(LANGUAGE) }, true);
    dialog.showModal();
  });
  if (dialog) {
    dialog.querySelector("[data-bulk-delete-cancel]").addEventListener("click", () => dialog.close());
    dialog.querySelector("[data-bulk-delete-confirm]").addEventListener("click", () => {
      const confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "1";
      form.appendChild(confirmed);
      dialog.close();
      form.submit();
    });
  }
})();
