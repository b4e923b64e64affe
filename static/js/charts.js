// Spend charts: draws every [data-chart] element from the JSON script of the same id
// (Django's json_script), with the vendored Chart.js. Without JavaScript, or if Chart.js
// fails to load, the charts stay hidden and the tables beside them show the same figures.
(function () {
  "use strict";
  // Django's JavaScript catalog (/jsi18n/, loaded by base.html; docs/i18n.md); English if absent.
  const gettext = window.gettext || ((text) => text);
  const ngettext = window.ngettext || ((one, many, n) => (n === 1 ? one : many));
  const interpolate = window.interpolate
    || ((format, values) => format.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])));
  const LANGUAGE = document.documentElement.lang || "en";

  const USD_PER_CREDIT = 0.001;

  function formatCredits(value) {
    const usd = (value * USD_PER_CREDIT).toLocaleString(LANGUAGE, {
      // docs/formats.md "Money": US$ with two decimals.
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    return interpolate(
      ngettext("%(credits)s credit (US$%(usd)s)", "%(credits)s credits (US$%(usd)s)", Number(value)),
      { credits: Number(value).toLocaleString(LANGUAGE), usd }, true);
  }

  function draw(element) {
    const source = document.getElementById(element.dataset.chart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const horizontal = Boolean(spec.horizontal);
    const rows = spec.labels.length;
    const canvas = document.createElement("canvas");
    element.style.height = horizontal ? `${Math.max(10, 2.2 * rows + 3)}rem` : "18rem";
    element.appendChild(canvas);
    element.hidden = false;
    // eslint-disable-next-line no-undef
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map((series) => ({ label: series.label, data: series.data })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        responsive: true,
        animation: false,
        plugins: {
          legend: { display: spec.series.length > 1 },
          tooltip: { callbacks: { label: (context) => formatCredits(context.parsed[horizontal ? "x" : "y"]) } },
        },
        scales: {
          [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
    // The chart now shows the figures: fold the table under it (it stays one click away).
    const table = element.parentElement.querySelector("details.chart-table");
    if (table) table.open = false;
  }

  function drawAll() {
    if (typeof window.Chart === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach((element) => {
      try {
        draw(element);
      } catch (error) {
        element.hidden = true; // the table still has the figures
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
