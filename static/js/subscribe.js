// Small enhancements of the subscription forms. Everything works without this file:
// the time zone is a select, the weekday is always shown, and the preview has a button.
(function () {
  "use strict";

  // Move keyboard and screen-reader focus to the list of problems after a failed submit.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }

  // The weekday only matters for the weekly email.
  document.querySelectorAll("form").forEach(function (form) {
    var weekday = form.querySelector(".field--weekday");
    var radios = form.querySelectorAll('input[name="frequency"]');
    if (!weekday || !radios.length) {
      return;
    }
    function sync() {
      var checked = form.querySelector('input[name="frequency"]:checked');
      weekday.hidden = !(checked && checked.value === "weekly");
    }
    radios.forEach(function (radio) {
      radio.addEventListener("change", sync);
    });
    sync();
  });

  var form = document.getElementById("subscribe-form");
  if (!form) {
    return;
  }

  // A new signup starts in the browser's own time zone, when the list has it.
  var zoneSelect = form.querySelector('select[name="timezone"]');
  if (zoneSelect && form.dataset.guessTimezone === "true") {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone && Array.prototype.some.call(zoneSelect.options, function (o) { return o.value === zone; })) {
        zoneSelect.value = zone;
      }
    } catch (error) {
      // An old browser without Intl time zones keeps the select as it is.
    }
  }

  // "See what you would get", live: the same fragment the button shows, fetched as
  // topics and keywords change.
  var results = document.getElementById("preview-results");
  var button = form.querySelector("[data-preview-button]");
  var url = form.dataset.previewUrl;
  if (!results || !url || !window.fetch) {
    return;
  }
  var watched = ["topics", "keywords", "authors", "excluded_keywords", "include_featured", "max_papers"];
  var timer = null;
  var inflight = null;

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      // Only the choices that shape the preview; never the address.
      if (watched.indexOf(name) !== -1) {
        params.append(name, value);
      }
    });
    return params.toString();
  }

  function refresh() {
    if (inflight) {
      inflight.abort();
    }
    inflight = new AbortController();
    results.setAttribute("aria-busy", "true");
    fetch(url + "?" + query(), {
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal: inflight.signal
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("preview failed: " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        results.innerHTML = html;
        results.removeAttribute("aria-busy");
      })
      .catch(function (error) {
        if (error.name === "AbortError") {
          return;
        }
        results.removeAttribute("aria-busy");
        results.textContent = "The preview could not be loaded just now. Your choices are fine; you can still subscribe.";
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 500);
  }

  form.addEventListener("input", function (event) {
    if (watched.indexOf(event.target.name) !== -1) {
      later();
    }
  });
  form.addEventListener("change", function (event) {
    if (watched.indexOf(event.target.name) !== -1) {
      later();
    }
  });
  if (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      window.clearTimeout(timer);
      refresh();
    });
  }
  if (!results.children.length && !results.textContent.trim()) {
    refresh();
  }
})();
