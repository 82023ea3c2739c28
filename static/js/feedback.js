// "More / less like this": record the choice in place and offer to undo it. Without
// JavaScript the same forms post and the page reloads with the same message.
(function () {
  "use strict";
  var form = document.querySelector("[data-feedback]");
  var status = document.getElementById("feedback-status");
  if (!form || !status || !window.fetch) return;

  function post(choice) {
    var body = new FormData(form);
    body.set("choice", choice);
    return fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": body.get("csrfmiddlewaretoken") },
    }).then(function (response) {
      if (!response.ok) throw new Error("not saved");
      return response.json();
    });
  }

  function show(text, withUndo) {
    status.textContent = "";
    var p = document.createElement("p");
    p.className = "flash flash--success";
    p.textContent = text;
    if (withUndo) {
      p.appendChild(document.createTextNode(" — "));
      var undo = document.createElement("button");
      undo.type = "button";
      undo.className = "link-button";
      undo.textContent = "undo";
      undo.addEventListener("click", function () {
        post("clear").then(function () { saved(false); show("Undone: this paper no longer shapes your digests.", false); })
          .catch(function () { form.submit(); });
      });
      p.appendChild(undo);
    }
    status.appendChild(p);
  }

  // "Nothing is saved until you press Save" is untrue once saved, and true again after undo.
  var unsaved = document.querySelector("[data-feedback-unsaved]");
  function saved(yes) { if (unsaved) unsaved.hidden = yes; }

  // The page's own Undo (for a vote made before) stays until a vote is made here: then
  // the message's "undo" replaces it.
  var undoForm = document.querySelector("[data-feedback-undo]");

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var checked = form.querySelector("input[name=choice]:checked");
    if (!checked) {
      // A link that names no choice ticks none: the plain post gets the page that asks
      // for one, rather than this script guessing it.
      form.submit();
      return;
    }
    post(checked.value).then(function (answer) {
      saved(true);
      if (undoForm) undoForm.hidden = true;
      show("Noted: " + answer.noted, true);
    })
      .catch(function () { form.submit(); });
  });
})();
