// Send the vote, then reveal which model wrote which answer.
(function () {
  "use strict";
  var form = document.getElementById("vote-form");
  if (!form) { return; }
  var status = document.getElementById("status");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var buttons = form.querySelectorAll("button[data-choice]");

  function setBusy(busy) {
    buttons.forEach(function (b) { b.disabled = busy; });
  }

  function vote(choice) {
    setBusy(true);
    status.textContent = "Sending your vote…";
    fetch(form.dataset.endpoint, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({battle_token: form.dataset.token, choice: choice}),
      credentials: "same-origin"
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      if (!res.ok) {
        status.textContent = "Vote not recorded: " + (res.body.reason || "error") + ".";
        if (res.body.error !== "already_voted") { setBusy(false); }
        return;
      }
      document.getElementById("name-left").textContent = "— " + res.body.left_model;
      document.getElementById("name-right").textContent = "— " + res.body.right_model;
      form.dataset.voted = choice;
      form.querySelector('[data-choice="' + choice + '"]').classList.add("chosen");
      status.textContent = "Thanks! Your vote is recorded.";
      document.getElementById("next").hidden = false;
      document.getElementById("next-battle").focus();
    }).catch(function () {
      status.textContent = "Network error: vote not sent. Try again.";
      setBusy(false);
    });
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () { vote(b.dataset.choice); });
  });
})();
