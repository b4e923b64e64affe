// New-generation form: live character count and live price from the server's price_quote.
(function () {
  "use strict";
  const form = document.getElementById("generation-form");
  if (!form) return;
  const prompt = form.querySelector("textarea[name=prompt]");
  const count = document.getElementById("prompt-count");
  const credits = document.getElementById("price-credits");
  const usd = document.getElementById("price-usd");
  const note = document.getElementById("price-note");
  const MIN = 3, MAX = 2500;

  function updateCount() {
    const length = prompt.value.trim().length;
    count.textContent = `${length} / ${MAX}`;
    count.classList.toggle("over", length > MAX || (length > 0 && length < MIN));
  }

  let pending = null;
  async function updatePrice() {
    const params = new URLSearchParams();
    for (const name of ["mode", "resolution", "duration", "sound", "aspect_ratio"]) {
      const field = form.elements[name];
      if (field) params.set(name, field.value);
    }
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const response = await fetch(`${form.dataset.quoteUrl}?${params}`, {
        signal: pending.signal, headers: { Accept: "application/json" },
      });
      const data = await response.json();
      if (!response.ok) {
        credits.textContent = "–";
        usd.textContent = "";
        note.textContent = Object.values(data.errors || {}).join(" ");
        return;
      }
      credits.textContent = data.credits.toLocaleString();
      usd.textContent = `(US$${data.usd})`;
      note.textContent = data.affordable
        ? `${data.credits_per_second} credits per second · price table v${data.price_table_version}`
        : `You have ${data.balance.toLocaleString()} credits available: not enough for this video.`;
    } catch (error) {
      if (error.name !== "AbortError") note.textContent = "Could not fetch the price.";
    }
  }

  prompt.addEventListener("input", updateCount);
  form.addEventListener("change", updatePrice);
  form.addEventListener("input", (event) => { if (event.target.name === "duration") updatePrice(); });
  form.addEventListener("submit", () => {
    // One click, one job: the one-time client_token also guards the server side.
    const button = document.getElementById("submit-button");
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
  });
  updateCount();
  updatePrice();
})();
