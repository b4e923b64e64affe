// New-generation form: mode tabs that keep what was typed, resolutions and providers per
// mode, image previews, live character count and live prices from the server's price_quote.
// Issue #15 item 8: frames take a dropped or pasted image (over the plain file inputs), and
// Ctrl/Cmd+Enter submits from any field. Item 7: the price box shows the variations' total.
(function () {
  "use strict";
  // Django's JavaScript catalog (/jsi18n/, loaded by base.html; docs/i18n.md); English if absent.
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate
    || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));
  const LANGUAGE = document.documentElement.lang || "en";
  const form = document.getElementById("generation-form");
  if (!form) return;
  const modeInput = form.elements.mode;
  const prompt = form.querySelector("textarea[name=prompt]");
  const count = document.getElementById("prompt-count");
  const credits = document.getElementById("price-credits");
  const usd = document.getElementById("price-usd");
  const note = document.getElementById("price-note");
  const balance = document.getElementById("limit-balance");
  const capLeft = document.getElementById("limit-cap-left");
  const blocked = document.getElementById("price-blocked");
  const blockedReason = document.getElementById("price-blocked-reason");
  const askManager = document.getElementById("ask-manager");
  const askManagerNone = document.getElementById("ask-manager-none");
  let asked = false; // the managers were asked from this page: the answer stays, no second button
  const promptOver = document.getElementById("prompt-over");
  // Why Submit waits, by the id of the element that says so (issue #15 item 6).
  const holds = new Set();
  // mode -> provider -> resolutions it offers, for the configured providers only.
  const offers = JSON.parse(document.getElementById("mode-offers").textContent);
  const defaults = JSON.parse(document.getElementById("mode-default-providers").textContent);
  const providerRadios = Array.from(form.querySelectorAll("input[name=provider]"));
  const cameraFixed = form.elements.camera_fixed;
  let cameraTouched = false;
  const MIN = 3, MAX = 2500;
  const number = (n) => n.toLocaleString(LANGUAGE);

  const tabs = Array.from(document.querySelectorAll(".mode-tabs [role=tab]"));
  const panel = document.getElementById("mode-panel");

  function showMode(mode, initial = false) {
    modeInput.value = mode;
    // Tabs pattern: the selected tab is the tab list's one Tab stop; arrows move between tabs.
    tabs.forEach((tab) => {
      const selected = tab.dataset.mode === mode;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected) panel.setAttribute("aria-labelledby", tab.id);
    });
    // Fields of other modes are hidden and disabled, so they are not submitted.
    form.querySelectorAll("fieldset[data-modes]").forEach((fieldset) => {
      const active = fieldset.dataset.modes.split(" ").includes(mode);
      fieldset.hidden = !active;
      fieldset.disabled = !active;
    });
    const modeOffers = offers[mode] || {};
    const allowed = [...new Set(Object.values(modeOffers).flat())];
    const select = form.elements.resolution;
    for (const option of select.options) option.disabled = !allowed.includes(option.value);
    if (!allowed.includes(select.value)) select.value = allowed.includes("720p") ? "720p" : allowed[0];
    updateProviders(mode);
    // 000 Parameters: camera_fixed defaults to true for extend; fixed_lens to false.
    if (!initial && !cameraTouched) cameraFixed.checked = mode === "video-extend";
    const url = new URL(window.location);
    url.searchParams.set("mode", mode);
    window.history.replaceState(null, "", url);
    updatePrice();
  }

  // Offer only the providers that serve the mode at the chosen resolution (1080p text- and
  // image-to-video: aivideoapi.ai; extend: APIXO); keep the choice if it still fits.
  function updateProviders(mode) {
    const modeOffers = offers[mode] || {};
    const resolution = form.elements.resolution.value;
    let checked = providerRadios.find((radio) => radio.checked);
    for (const radio of providerRadios) {
      const fits = (modeOffers[radio.value] || []).includes(resolution);
      radio.disabled = !fits;
      radio.closest("label").hidden = !(radio.value in modeOffers);
      if (!fits && radio === checked) { radio.checked = false; checked = null; }
    }
    if (!checked) {
      const fitting = providerRadios.filter((radio) => !radio.disabled);
      const preferred = fitting.find((radio) => radio.value === defaults[mode]) || fitting[0];
      if (preferred) preferred.checked = true;
    }
  }

  // The price box is a live region: write only text that changed, so a price fetched again
  // unchanged is not read out again.
  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function showPrices(data) {
    for (const span of form.querySelectorAll("[data-price-for]")) {
      const offer = (data.providers || {})[span.dataset.priceFor];
      setText(span, offer
        ? interpolate(ngettext("%(credits)s credit (%(usd)s)", "%(credits)s credits (%(usd)s)", offer.credits), { credits: number(offer.credits), usd: offer.usd_text }, true)
        : gettext("not offered for these settings"));
    }
  }

  // Submit is disabled while any reason holds, and describes itself by those reasons. The
  // server refuses the same things on submit; this only says so before.
  function hold(id, on) {
    if (on) holds.add(id); else holds.delete(id);
    const button = document.getElementById("submit-button");
    if (!button || button.getAttribute("aria-busy") === "true") return;
    button.disabled = holds.size > 0;
    if (holds.size) button.setAttribute("aria-describedby", [...holds].join(" "));
    else button.removeAttribute("aria-describedby");
  }

  // Counted as the server counts: trimmed, and a line break is sent as CR LF (two characters).
  function updateCount() {
    const length = prompt.value.replace(/\r?\n/g, "\r\n").trim().length;
    const over = length > MAX;
    count.textContent = `${number(length)} / ${number(MAX)}`;
    count.classList.toggle("over", over || (length > 0 && length < MIN));
    const message = over
      ? interpolate(gettext("The prompt is over %(max)s characters; shorten it to submit. Nothing was cut."), { max: number(MAX) }, true)
      : "";
    setText(promptOver, message);
    promptOver.hidden = !over;
    if (over) prompt.setAttribute("aria-invalid", "true");
    else if (!document.getElementById("id_prompt_error")) prompt.removeAttribute("aria-invalid");
    // The field names the message too, so it is heard from the field itself.
    const described = (prompt.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== "prompt-over");
    if (over) described.push("prompt-over");
    if (described.length) prompt.setAttribute("aria-describedby", described.join(" "));
    else prompt.removeAttribute("aria-describedby");
    hold("prompt-over", over);
  }

  function showLimits(data) {
    setText(balance, number(data.balance));
    setText(capLeft, data.cap_left === null ? gettext("no cap")
      : interpolate(ngettext("%(count)s credit", "%(count)s credits", data.cap_left), { count: number(data.cap_left) }, true));
    setText(blockedReason, data.blocked || "");
    blocked.hidden = !data.blocked;
    askManager.value = data.blocked ? String(data.credits) : "";
    askManager.hidden = asked || !data.ask_manager;
    askManagerNone.hidden = Boolean(data.ask_manager);
    hold("price-blocked", Boolean(data.blocked));
  }

  let pending = null;
  async function updatePrice() {
    const params = new URLSearchParams();
    for (const name of ["mode", "resolution", "duration", "sound", "provider", "variations"]) {
      const field = form.elements[name];
      if (field && field.value !== undefined) params.set(name, field.value);
    }
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const response = await fetch(`${form.dataset.quoteUrl}?${params}`, {
        signal: pending.signal, headers: { Accept: "application/json" },
      });
      const data = await response.json();
      if (!response.ok) {
        setText(credits, "–");
        setText(usd, "");
        setText(note, Object.values(data.errors || {}).join(" "));
        blocked.hidden = true;
        hold("price-blocked", false);
        return;
      }
      showPrices(data);
      showLimits(data);
      // Variations are charged each on their own; the box shows what the submission holds.
      const each = data.variations > 1
        ? interpolate(ngettext("%(count)s variations × %(credits)s credit · ", "%(count)s variations × %(credits)s credits · ", data.credits), { count: data.variations, credits: number(data.credits) }, true)
        : "";
      setText(credits, number(data.total_credits));
      setText(usd, `(${data.total_usd_text})`);
      setText(note, each + interpolate(ngettext("%(rate)s credit per second · price table v%(version)s", "%(rate)s credits per second · price table v%(version)s", data.credits_per_second), { rate: number(data.credits_per_second), version: data.price_table_version }, true));
    } catch (error) {
      if (error.name !== "AbortError") setText(note, gettext("Could not fetch the price."));
    }
  }

  function preview(input) {
    const img = form.querySelector(`img[data-preview-for="${input.id}"]`);
    if (!img) return;
    const file = input.files && input.files[0];
    if (img.dataset.objectUrl) URL.revokeObjectURL(img.dataset.objectUrl);
    if (file) {
      img.dataset.objectUrl = URL.createObjectURL(file);
      img.src = img.dataset.objectUrl;
    }
  }

  // Drop or paste an image into a frame slot: the file goes into the slot's own file input
  // (DataTransfer), so submitting is the same as choosing the file; without JavaScript the
  // input alone works. The slot's button takes the focus for a keyboard paste (Ctrl/Cmd+V)
  // and opens the file chooser when pressed.
  const IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];
  // The first JPG/PNG/WebP of a drop or paste; false when it holds only other files; null
  // when it holds no file at all (text).
  function imageFrom(transfer) {
    const files = Array.from((transfer && transfer.files) || []);
    if (!files.length) return null;
    return files.find((file) => IMAGE_TYPES.includes(file.type)) || false;
  }
  function useImage(slot, input, status, file) {
    if (file === false) {
      setText(status, gettext("Only a JPG, PNG or WebP image can be a frame."));
      return;
    }
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    setText(status, interpolate(gettext("%(frame)s: %(name)s (%(size)s KB) added."), {
      frame: input.labels[0] ? input.labels[0].textContent.trim() : gettext("Frame"),
      name: file.name || gettext("pasted image"),
      size: number(Math.ceil(file.size / 1024)),
    }, true));
  }
  form.querySelectorAll(".frame-slot[data-drop-for]").forEach((slot) => {
    const input = document.getElementById(slot.dataset.dropFor);
    if (!input || typeof DataTransfer === "undefined") return;
    const button = document.getElementById(`${input.id}_drop`);
    const status = document.createElement("p");
    status.className = "meta";
    status.setAttribute("role", "status");
    status.id = `${input.id}_dropstatus`;
    slot.append(status);
    slot.classList.add("drop-zone");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", () => input.click());
    }
    let depth = 0;
    slot.addEventListener("dragenter", (event) => {
      event.preventDefault();
      depth += 1;
      slot.classList.add("drop-over");
    });
    slot.addEventListener("dragover", (event) => {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    });
    slot.addEventListener("dragleave", () => {
      depth = Math.max(depth - 1, 0);
      if (!depth) slot.classList.remove("drop-over");
    });
    slot.addEventListener("drop", (event) => {
      event.preventDefault();
      depth = 0;
      slot.classList.remove("drop-over");
      const file = imageFrom(event.dataTransfer);
      if (file !== null) useImage(slot, input, status, file);
    });
    slot.addEventListener("paste", (event) => {
      // Text pasted into the URL field stays text; only an image is taken as the frame.
      const file = imageFrom(event.clipboardData);
      if (file === null) return;
      event.preventDefault();
      useImage(slot, input, status, file);
    });
  });

  // Ctrl+Enter (Cmd+Enter on a Mac) submits from anywhere in the form, through the same
  // submit handler, so every reason Submit waits for still holds it back.
  form.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.isComposing) return;
    event.preventDefault();
    const button = document.getElementById("submit-button");
    if (holds.size || !button || button.disabled) return;
    form.requestSubmit(button);
  });
  const shortcut = document.getElementById("submit-shortcut");
  if (shortcut) shortcut.hidden = false;

  tabs.forEach((tab) => {
    tab.addEventListener("click", (event) => {
      event.preventDefault();
      showMode(tab.dataset.mode);
    });
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      const next = {
        ArrowRight: tabs[(index + 1) % tabs.length],
        ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
        Home: tabs[0],
        End: tabs[tabs.length - 1],
      }[event.key];
      if (!next) return;
      event.preventDefault();
      showMode(next.dataset.mode);
      next.focus();
    });
  });
  cameraFixed.addEventListener("change", () => { cameraTouched = true; });
  form.querySelectorAll("input[type=file]").forEach((input) => {
    input.addEventListener("change", () => preview(input));
  });
  prompt.addEventListener("input", updateCount);
  form.addEventListener("change", (event) => {
    if (event.target.name === "resolution") updateProviders(modeInput.value);
    updatePrice();
  });
  form.addEventListener("input", (event) => { if (event.target.name === "duration") updatePrice(); });
  form.addEventListener("submit", (event) => {
    // Not while a limit holds (a script or a key may submit past the disabled button).
    if (holds.size) { event.preventDefault(); return; }
    // One click, one job: the one-time client_token also guards the server side.
    const button = document.getElementById("submit-button");
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
  });
  window.addEventListener("pageshow", (event) => {
    // Back to a form that was already submitted (from the back/forward cache or history):
    // the button is usable again and a new submission gets a new one-time key, so the
    // server asks before repeating the job instead of just showing the first one.
    const navigation = performance.getEntriesByType("navigation")[0];
    if (!event.persisted && !(navigation && navigation.type === "back_forward")) return;
    const button = document.getElementById("submit-button");
    button.removeAttribute("aria-busy");
    button.disabled = holds.size > 0;
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    form.elements.client_token.value = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  });
  // "Ask a manager": the portal e-mails the managers; the answer shows in place, the form and
  // what was typed stay (without JavaScript the button posts and the page comes back).
  const askForm = document.getElementById("ask-manager-form");
  const askSent = document.getElementById("ask-manager-sent");
  askForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    askManager.disabled = true;
    try {
      const body = new FormData(askForm);
      body.set("credits", askManager.value);
      const response = await fetch(askForm.action, {
        method: "POST", body, headers: { Accept: "application/json" }, credentials: "same-origin",
      });
      const data = await response.json();
      askSent.textContent = ` ${data.message}`;
      asked = true;
      askManager.hidden = true;
    } catch (error) {
      askSent.textContent = ` ${gettext("Could not send the request; try again.")}`;
      askManager.disabled = false;
    }
  });
  updateCount();
  showMode(modeInput.value, true);
})();
