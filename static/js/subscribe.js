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

  // The topic filter: typing narrows the list to the topics whose name, group or
  // description contains every word typed. Without this script every topic is listed.
  document.querySelectorAll("[data-topic-filter]").forEach(function (box) {
    var input = box.querySelector("input");
    var status = box.querySelector(".topic-filter__status");
    var fieldset = box.closest("fieldset");
    var topics = fieldset.querySelectorAll("[data-topic]");
    var groups = fieldset.querySelectorAll("[data-topic-group]");
    // "optimisation" finds "Optimization and training" (and "optimization" the topics
    // whose descriptions write "optimisation"): both sides are read with "iz", "yz".
    function britishAsAmerican(text) {
      return text.replace(/(\p{L}{3,})is(?=[aei])/gu, "$1iz").replace(/(\p{L}{2,})ys(?=[ei])/gu, "$1yz");
    }
    // What a topic is found by: its name and description, its acronyms ("LLM" finds
    // "Large language models"), and its group's name.
    var searchText = new Map();
    groups.forEach(function (group) {
      var groupName = group.querySelector("legend").textContent;
      group.querySelectorAll("[data-topic]").forEach(function (topic) {
        var also = topic.getAttribute("data-topic-also") || "";
        searchText.set(topic, britishAsAmerican((topic.textContent + " " + also + " " + groupName).replace(/\s+/g, " ").toLowerCase()));
      });
    });
    box.hidden = false;
    // A typed word finds the words it begins ("diffu" finds "diffusion", "art" does not
    // find "part"); an acronym typed in capitals ("SAM") finds only that whole word, not
    // "sampling". "LLMs" finds what "LLM" does.
    function wordTest(word) {
      var escaped = britishAsAmerican(word.toLowerCase()).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      var plural = word.length > 3 && /s$/i.test(word) ? "|" + escaped.slice(0, -1) : "";
      var whole = word.length >= 3 && /^[A-Z0-9-]+$/.test(word) && /[A-Z]/.test(word);
      return new RegExp("(?:^|[^\\p{L}\\p{N}])(?:" + escaped + plural + ")" + (whole ? "(?![\\p{L}\\p{N}])" : ""), "u");
    }
    function apply() {
      var typed = input.value.split(/\s+/).filter(Boolean);
      var tests = typed.map(wordTest);
      var shown = 0;
      topics.forEach(function (topic) {
        var text = searchText.get(topic) || "";
        var match = tests.every(function (test) { return test.test(text); });
        topic.hidden = !match;
        if (match) {
          shown += 1;
        }
      });
      groups.forEach(function (group) {
        group.hidden = !group.querySelector("[data-topic]:not([hidden])");
      });
      status.textContent = typed.length
        ? (shown === 0 ? "No topic matches “" + input.value.trim() + "”: try a keyword below."
          : shown + " of " + topics.length + " topics shown.")
        : "";
    }
    input.addEventListener("input", apply);
    input.addEventListener("keydown", function (event) {
      // Enter here never subscribes: it ticks the topic when the filter leaves just one
      // ("diffusion", Enter, "robot", Enter). Escape clears the filter.
      if (event.key === "Enter") {
        event.preventDefault();
        var left = Array.prototype.filter.call(topics, function (topic) { return !topic.hidden; });
        if (input.value.trim() && left.length === 1) {
          var box = left[0].querySelector("input");
          var name = left[0].querySelector("label").firstChild.textContent.trim();
          if (!box.checked) {
            box.checked = true;
            box.dispatchEvent(new Event("change", { bubbles: true }));
          }
          status.textContent = "“" + name + "” is ticked. Type another topic, or press Tab to go on.";
        }
      } else if (event.key === "Escape" && input.value) {
        event.preventDefault();
        input.value = "";
        apply();
      }
    });
  });

  // The folded schedule's summary says what is chosen inside it.
  document.querySelectorAll("details.schedule").forEach(function (details) {
    var line = details.querySelector("[data-schedule-summary]");
    var owner = details.closest("form");
    if (!line || !owner) {
      return;
    }
    function value(name) {
      var field = owner.elements[name];
      return field ? field.value : "";
    }
    function describe() {
      var weekly = value("frequency") === "weekly";
      var day = owner.querySelector('select[name="weekday"]');
      var when = weekly && day ? "Weekly on " + day.options[day.selectedIndex].text : "Daily";
      var zone = value("timezone").replace(/_/g, " ");
      var format = value("email_format") === "text" ? "plain text" : "HTML";
      // "07:00 UTC", but "07:00 Europe/Berlin time".
      var zoneWords = zone === "UTC" ? zone : zone + " time";
      line.textContent = when + " at " + value("delivery_time") + " " + zoneWords + ", up to " +
        value("max_papers") + " papers, " + format;
    }
    details.addEventListener("change", describe);
    details.addEventListener("input", describe);
    owner.addEventListener("schedule-guessed", describe);
  });

  // The signup form, or the manage page's (which has the live preview only).
  var form = document.getElementById("subscribe-form") || document.querySelector("form[data-preview-url]");
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
        form.dispatchEvent(new Event("schedule-guessed"));
      }
    } catch (error) {
      // An old browser without Intl time zones keeps the select as it is.
    }
  }

  // "See what you would get", live: the same fragment the button shows, fetched as
  // topics and keywords change.
  var results = document.getElementById("preview-results");
  var line = form.querySelector("[data-preview-line]");
  var button = document.querySelector("[data-preview-button]");
  var url = form.dataset.previewUrl;
  if (!results || !url || !window.fetch) {
    return;
  }
  var panel = document.querySelector("[data-preview-panel]");
  if (panel) {
    panel.hidden = false;
  }
  // "unexpanded_keywords", "keywords_without_related", "left_out_terms": the preview's own
  // "remove" and "leave out" boxes, which belong to the form.
  // ("preview_for": the manage page's token, so that the reader's votes count.)
  var watched = [
    "topics", "keywords", "authors", "excluded_keywords", "include_featured", "max_papers", "unexpanded_keywords",
    "keywords_without_related", "left_out_terms", "preview_for"
  ];
  var removeBoxes = ["unexpanded_keywords", "keywords_without_related", "left_out_terms"];
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
    // POST, not GET: a pasted list of keywords makes a query string longer than web
    // servers take (gunicorn answers 414 past 4 KB), and the preview then failed.
    var body = new URLSearchParams(query());
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) {
      body.append("csrfmiddlewaretoken", token.value);
    }
    fetch(url, {
      method: "POST",
      body: body,
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
        // A "remove" box just ticked keeps the focus when the preview is drawn again.
        var focused = results.contains(document.activeElement) ? document.activeElement : null;
        var removing = focused && removeBoxes.indexOf(focused.name) !== -1;
        var focusedName = removing ? focused.name : null;
        var focusedValue = removing ? focused.value : null;
        // A "choose which" the reader opened stays open when the preview is drawn again.
        var opened = [];
        results.querySelectorAll("details.readings__more[open]").forEach(function (details) {
          opened.push(details.dataset.keyword);
        });
        results.innerHTML = html;
        results.querySelectorAll("details.readings__more").forEach(function (details) {
          if (opened.indexOf(details.dataset.keyword) !== -1) {
            details.open = true;
          }
        });
        if (focusedValue !== null) {
          results.querySelectorAll('input[name="' + focusedName + '"]').forEach(function (box) {
            if (box.value === focusedValue) {
              box.focus();
            }
          });
        }
        results.removeAttribute("aria-busy");
        // The preview's "remove" boxes belong to this form (the fragment names the
        // signup form), and they replace the list the page was served with, which
        // would go stale as keywords change.
        results.querySelectorAll("[form]").forEach(function (box) { box.setAttribute("form", form.id); });
        // "Use “LLM agents”" needs this script: without it the button stays hidden.
        results.querySelectorAll("[data-use-spelling]").forEach(function (use) { use.hidden = false; });
        form.querySelectorAll(".readings").forEach(function (list) {
          if (!results.contains(list)) {
            list.remove();
          }
        });
        var body = results.querySelector("[data-summary-line]");
        if (line && body) {
          line.textContent = body.dataset.summaryLine;
        }
      })
      .catch(function (error) {
        if (error.name === "AbortError") {
          return;
        }
        results.removeAttribute("aria-busy");
        results.textContent = "The preview could not be loaded just now. Your choices are fine; you can still " +
          (form.id === "subscribe-form" ? "subscribe." : "save them.");
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 500);
  }

  form.addEventListener("input", function (event) {
    if (watched.indexOf(event.target.name) !== -1 && !results.contains(event.target)) {
      later();
    }
  });
  form.addEventListener("change", function (event) {
    // A "remove" box in the preview refreshes it at once (below); on the manage page the
    // preview sits inside the form, and its change must not ask a second time.
    if (watched.indexOf(event.target.name) !== -1 && !results.contains(event.target)) {
      later();
    }
  });
  // "Did you mean": the button puts the spelling papers use in place of the keyword as
  // typed (that keyword whole, between its separators), then asks again.
  results.addEventListener("click", function (event) {
    var use = event.target.closest("[data-use-spelling]");
    var box = form.querySelector("[name=keywords]");
    if (!use || !box) {
      return;
    }
    var typed = use.getAttribute("data-typed").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    var whole = new RegExp("(^\\s*|[,;]\\s*)" + typed + "(?=\\s*(?:[,;]|$))");
    if (whole.test(box.value)) {
      box.value = box.value.replace(whole, function (found, before) {
        return before + use.getAttribute("data-use-spelling");
      });
      box.focus();
      window.clearTimeout(timer);
      refresh();
    }
  });
  // The "remove" boxes sit in the preview, outside the form: their changes bubble here.
  results.addEventListener("change", function (event) {
    if (removeBoxes.indexOf(event.target.name) !== -1) {
      window.clearTimeout(timer);
      refresh();
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
