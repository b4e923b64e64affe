// Relative times that stay current (docs/formats.md "Dates and times").
// The server renders <time datetime="ISO" title="absolute" data-relative>absolute</time>;
// this script swaps the text for "3 minutes ago" with the browser's Intl.RelativeTimeFormat
// and refreshes it every minute. The title keeps the absolute time for hover; without
// JavaScript (or without Intl.RelativeTimeFormat) the absolute text simply stays.
(function () {
  "use strict";
  if (!window.Intl || !Intl.RelativeTimeFormat) return;
  var format = new Intl.RelativeTimeFormat(document.documentElement.lang || "en", {
    numeric: "auto",
  });
  var UNITS = [
    ["year", 365 * 24 * 3600],
    ["month", 30 * 24 * 3600],
    ["week", 7 * 24 * 3600],
    ["day", 24 * 3600],
    ["hour", 3600],
    ["minute", 60],
  ];

  function relative(seconds) {
    var size = Math.abs(seconds);
    if (size < 45) return format.format(0, "second"); // "now"
    for (var i = 0; i < UNITS.length; i++) {
      if (size >= UNITS[i][1] * 0.95 || UNITS[i][0] === "minute") {
        return format.format(Math.round(seconds / UNITS[i][1]), UNITS[i][0]);
      }
    }
  }

  function refresh(root) {
    var now = Date.now();
    var times = (root || document).querySelectorAll("time[data-relative][datetime]");
    for (var i = 0; i < times.length; i++) {
      var at = Date.parse(times[i].getAttribute("datetime"));
      if (isNaN(at)) continue;
      var text = relative(Math.round((at - now) / 1000));
      if (times[i].textContent !== text) times[i].textContent = text;
    }
  }

  refresh(document);
  setInterval(function () { refresh(document); }, 60 * 1000);
  // Fragments the live pages swap in (cards, status) get their relative text at once.
  new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      if (records[i].addedNodes.length) { refresh(document); return; }
    }
  }).observe(document.body, { childList: true, subtree: true });
  window.seedanceTimes = { refresh: refresh };
})();
