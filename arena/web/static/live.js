// Live battles: send a prompt, watch two anonymous answers stream in, follow up, vote, see names.
//
// While an answer streams it is shown as plain text (a Text node's data, never HTML); when it
// is done the server sends the answer rendered from Markdown and sanitized by nh3, which
// replaces the plain text. The server-sent events carry the Redis stream's entry ids, so a
// reconnecting EventSource resumes where it stopped (Last-Event-ID).
//
// The battle survives a reload: its id, token and stream positions are kept in sessionStorage
// (this tab only; never the model names). On load a kept battle is read back from
// ``GET /api/v1/live/<id>`` and its event stream reopened; one the server no longer knows is
// dropped.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var conversation = document.getElementById("conversation");
  var askForm = document.getElementById("ask-form");
  var promptBox = document.getElementById("prompt-text");
  var categoryBox = document.getElementById("prompt-category");
  var sendButton = document.getElementById("send");
  var voteForm = document.getElementById("vote-form");
  var voteButtons = voteForm.querySelectorAll("button[data-choice]");
  var regenButton = document.getElementById("regenerate");
  var statusLine = document.getElementById("status");
  var next = document.getElementById("next");
  var maxTurns = parseInt(root.dataset.maxTurns, 10) || 1;

  var battle = null;   // {id, token, base}
  var source = null;   // the EventSource of the battle
  var lastId = "";     // the last stream entry id seen
  var turns = {};      // turn number -> {attempt, panes: {left, right}}
  var state = "idle";  // idle | open | ready | failed | voted
  var leaked = false;
  var turnFrom = "";   // the entry id the current turn's events follow (its stream resumes there)
  var KEPT = "arena.live.battle";  // sessionStorage key: {id, token, lastId, turnFrom, voted}

  // sessionStorage may be missing or refuse writes (storage off, quota): then no reload survival.
  function keep() {
    if (!battle) { return; }
    var kept = {id: battle.id, token: battle.token, lastId: lastId, turnFrom: turnFrom,
                voted: voteForm.dataset.voted || null};
    try { window.sessionStorage.setItem(KEPT, JSON.stringify(kept)); } catch (err) { /* none */ }
  }

  function kept() {
    try {
      var value = JSON.parse(window.sessionStorage.getItem(KEPT) || "null");
      return value && typeof value.id === "number" && typeof value.token === "string"
        ? value : null;
    } catch (err) { return null; }
  }

  function forget() {
    try { window.sessionStorage.removeItem(KEPT); } catch (err) { /* nothing kept */ }
  }

  // The id of an event seen: kept, so a reload resumes after it.
  function seen(e) {
    if (e.lastEventId) {
      lastId = e.lastEventId;
      keep();
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (r) {
      return r.json().then(function (data) { return {ok: r.ok, status: r.status, body: data}; },
        function () { return {ok: false, status: r.status, body: {reason: "HTTP " + r.status}}; });
    });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // One turn: the rater's text, then the two answers side by side.
  function turnBlock(n, userText) {
    if (turns[n]) { return turns[n]; }
    var section = el("section", "turn");
    section.id = "turn-" + n;
    section.dataset.turn = String(n);
    section.appendChild(el("p", "user-text", userText || ""));
    var answers = el("div", "answers");
    var panes = {};
    ["left", "right"].forEach(function (side) {
      var article = el("article", "answer pane-" + side);
      article.dataset.side = side;
      var title = el("h2", "pane-title", side === "left" ? "Model A" : "Model B");
      title.appendChild(el("span", "model-name"));
      article.appendChild(title);
      var body = el("div", "answer-text");
      article.appendChild(body);
      var message = el("p", "pane-error");
      message.hidden = true;
      article.appendChild(message);
      answers.appendChild(article);
      panes[side] = {article: article, body: body, message: message, text: null, state: "streaming"};
    });
    section.appendChild(answers);
    conversation.appendChild(section);
    turns[n] = {attempt: 0, panes: panes, section: section};
    return turns[n];
  }

  function resetPane(pane) {
    pane.body.textContent = "";
    pane.text = null;
    pane.state = "streaming";
    pane.message.hidden = true;
    pane.message.textContent = "";
    pane.article.classList.remove("failed", "done");
    pane.article.classList.add("streaming");
  }

  // The block and pane an event is for, or null when it belongs to an older attempt.
  function paneFor(data) {
    var block = turnBlock(parseInt(data.turn, 10));
    var attempt = parseInt(data.attempt || "0", 10);
    if (attempt < block.attempt) { return null; }
    if (attempt > block.attempt) {
      block.attempt = attempt;
      resetPane(block.panes.left);
      resetPane(block.panes.right);
    }
    return data.side ? block.panes[data.side] : null;
  }

  function showFailure(pane, reason) {
    pane.state = "error";
    pane.article.classList.remove("streaming");
    pane.article.classList.add("failed");
    pane.message.textContent = "This model failed: " + reason;
    pane.message.hidden = false;
  }

  function showDone(pane, html) {
    pane.state = "done";
    pane.article.classList.remove("streaming");
    pane.article.classList.add("done");
    pane.body.innerHTML = html;  // rendered and sanitized (nh3) by the server
    pane.text = null;
  }

  function onDelta(e) {
    seen(e);
    var data = JSON.parse(e.data);
    var pane = paneFor(data);
    if (!pane || pane.state !== "streaming") { return; }
    if (pane.text === null) {
      pane.text = document.createTextNode("");
      pane.body.textContent = "";
      pane.body.appendChild(pane.text);
      pane.article.classList.add("streaming");
    }
    pane.text.appendData(data.text);
  }

  function onDone(e) {
    seen(e);
    var data = JSON.parse(e.data);
    var pane = paneFor(data);
    if (pane) { showDone(pane, data.html || ""); }
  }

  function onError(e) {
    seen(e);
    var data = JSON.parse(e.data);
    var pane = paneFor(data);
    if (pane) { showFailure(pane, data.reason || "no answer"); }
  }

  function onTurn(e) {
    seen(e);
    paneFor(JSON.parse(e.data));
  }

  function onStatus(e) {
    seen(e);
    var data = JSON.parse(e.data);
    leaked = leaked || data.identity_leak === "1" || data.identity_leak === true;
    closeStream();
    setState(data.status, data.failure);
  }

  function onView(e) {
    var view = JSON.parse(e.data);
    closeStream();
    applyView(view);
    setState(view.status, view.failure);
  }

  // Draw the conversation from a view (``GET /api/v1/live/<id>`` or the relay's view event).
  function applyView(view) {
    leaked = leaked || !!view.identity_leak;
    (view.turns || []).forEach(function (t) {
      var block = turnBlock(t.turn, t.user);
      block.section.querySelector(".user-text").textContent = t.user;
      ["left", "right"].forEach(function (side) {
        var s = t[side];
        if (!s) { return; }
        if (s.attempt > block.attempt) { block.attempt = s.attempt; }
        var pane = block.panes[side];
        if (s.status === "done" && s.html !== undefined) {
          showDone(pane, s.html);
        } else if (s.status === "error") {
          showFailure(pane, s.error || "no answer");
        } else if (s.text && pane.state === "streaming" && pane.text === null) {
          pane.text = document.createTextNode(s.text);
          pane.body.textContent = "";
          pane.body.appendChild(pane.text);
        }
      });
    });
  }

  function turnCount() {
    return Object.keys(turns).length;
  }

  function setVoting(enabled) {
    voteButtons.forEach(function (b) { b.disabled = !enabled; });
    regenButton.disabled = !enabled;
  }

  function setState(status, failure) {
    state = status;
    voteForm.hidden = false;
    regenButton.hidden = status === "voted" || status === "failed";
    if (status === "ready") {
      setVoting(true);
      var left = maxTurns - turnCount();
      askForm.hidden = left <= 0;
      sendButton.disabled = false;
      promptBox.placeholder = "Ask a follow-up (" + left + " left), or vote.";
      statusLine.textContent = (leaked
        ? "An answer named a model, so this battle is flagged: your vote is stored but "
          + "left out of the ratings. "
        : "") + "Both answers are in. Which is better?";
      root.classList.toggle("leaked", leaked);
    } else if (status === "failed") {
      setVoting(false);
      askForm.hidden = true;
      statusLine.textContent = "This battle cannot be voted on: " + (failure || "a model failed")
        + ". Start a new battle.";
      next.hidden = false;
    } else if (status === "voted") {
      setVoting(false);
      askForm.hidden = true;
      next.hidden = false;
    } else {
      setVoting(false);
      sendButton.disabled = true;
      statusLine.textContent = "The models are answering…";
    }
  }

  function closeStream() {
    if (source) { source.close(); source = null; }
  }

  // The stream of the battle from ``lastId``; ``newTurn``: a turn or attempt begins after it.
  function openStream(newTurn) {
    if (newTurn) { turnFrom = lastId; }
    keep();
    closeStream();
    var url = battle.base + "/events?token=" + encodeURIComponent(battle.token);
    if (lastId) { url += "&last_event_id=" + encodeURIComponent(lastId); }
    source = new EventSource(url);
    source.addEventListener("delta", onDelta);
    source.addEventListener("done", onDone);
    source.addEventListener("error", function (e) {
      if (e.data !== undefined) { onError(e); return; }  // an "error" entry of a side
      // A network error: EventSource reconnects by itself (sending Last-Event-ID) unless
      // the server refused the stream outright.
      if (source && source.readyState === EventSource.CLOSED) {
        statusLine.textContent = "Lost the connection to the answers. Reload the page or "
          + "start a new battle.";
        next.hidden = false;
      }
    });
    source.addEventListener("turn", onTurn);
    source.addEventListener("status", onStatus);
    source.addEventListener("view", onView);
  }

  function refused(res) {
    statusLine.textContent = "Not sent: " + ((res.body && res.body.reason) || "error") + ".";
    sendButton.disabled = false;
  }

  function send(text) {
    sendButton.disabled = true;
    setVoting(false);
    if (!battle) {
      var body = {prompt: text};
      if (categoryBox.value) { body.category = categoryBox.value; }
      statusLine.textContent = "Starting a battle…";
      post(root.dataset.start, body).then(function (res) {
        if (!res.ok) { refused(res); return; }
        battle = {id: res.body.battle_id, token: res.body.battle_token,
                  base: root.dataset.start + "/" + res.body.battle_id};
        root.dataset.battleId = String(battle.id);
        categoryBox.hidden = true;
        promptBox.value = "";
        applyView(res.body.view);
        setState("open");
        openStream(true);
      }, function () { refused({body: {reason: "network error"}}); });
      return;
    }
    post(battle.base + "/turns", {battle_token: battle.token, text: text}).then(function (res) {
      if (!res.ok) { refused(res); setState(state); return; }
      promptBox.value = "";
      applyView(res.body.view);
      setState("open");
      openStream(true);
    }, function () { refused({body: {reason: "network error"}}); });
  }

  function regenerate() {
    if (!battle || state !== "ready") { return; }
    setVoting(false);
    post(battle.base + "/regenerate", {battle_token: battle.token}).then(function (res) {
      if (!res.ok) { refused(res); setState(state); return; }
      var block = turns[res.body.turn];
      if (block && res.body.attempt > block.attempt) {
        block.attempt = res.body.attempt;
        resetPane(block.panes.left);
        resetPane(block.panes.right);
      }
      setState("open");
      openStream(true);
    }, function () { refused({body: {reason: "network error"}}); });
  }

  function reveal(names) {
    ["left", "right"].forEach(function (side) {
      var info = names[side] || {};
      var parts = [info.model];
      if (info.ttft_ms !== null && info.ttft_ms !== undefined) {
        parts.push("first token " + Math.round(info.ttft_ms) + " ms");
      }
      if (info.tokens_per_second !== null && info.tokens_per_second !== undefined) {
        parts.push(info.tokens_per_second.toFixed(1) + " tokens/s");
      }
      document.querySelectorAll(".pane-" + side + " .pane-title .model-name").forEach(
        function (span) { span.textContent = " — " + parts.join(", "); });
    });
  }

  // The names with speeds, once the vote is accepted (409 until then: ask again).
  function fetchReveal(tries) {
    fetch(battle.base + "/reveal?token=" + encodeURIComponent(battle.token),
          {credentials: "same-origin"}).then(function (r) {
      if (r.status === 409 && tries < 40) {
        setTimeout(function () { fetchReveal(tries + 1); }, 250 + 50 * tries);
        return null;
      }
      return r.ok ? r.json() : null;
    }).then(function (names) {
      if (names) { reveal(names); root.dataset.revealed = "1"; }
    }, function () { /* the names from the vote stay */ });
  }

  function vote(choice) {
    if (!battle || state !== "ready") { return; }
    setVoting(false);
    statusLine.textContent = "Sending your vote…";
    post(root.dataset.vote, {battle_token: battle.token, choice: choice}).then(function (res) {
      if (!res.ok) {
        statusLine.textContent = "Vote not recorded: " + (res.body.reason || "error") + ".";
        if (res.body.error !== "already_voted") { setVoting(true); }
        return;
      }
      voteForm.querySelector('[data-choice="' + choice + '"]').classList.add("chosen");
      voteForm.dataset.voted = choice;
      keep();
      reveal({left: {model: res.body.left_model}, right: {model: res.body.right_model}});
      setState("voted");
      statusLine.textContent = "Thanks! Your vote is recorded.";
      document.getElementById("new-battle").focus();
      fetchReveal(0);
    }, function () {
      statusLine.textContent = "Network error: vote not sent. Try again.";
      setVoting(true);
    });
  }

  askForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = promptBox.value;
    if (!text.trim()) { statusLine.textContent = "Type a prompt first."; return; }
    send(text);
  });
  promptBox.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      askForm.requestSubmit();
    }
  });
  voteButtons.forEach(function (b) {
    b.addEventListener("click", function () { vote(b.dataset.choice); });
  });
  regenButton.addEventListener("click", regenerate);

  var KEYS = {"1": "left", "2": "right", "3": "tie", "4": "both_bad",
              "a": "left", "b": "right", "t": "tie", "x": "both_bad"};
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) { return; }
    var key = e.key.toLowerCase();
    if (KEYS[key]) {
      e.preventDefault();
      vote(KEYS[key]);
    } else if (key === "n") {
      e.preventDefault();
      forget();
      window.location.href = document.getElementById("new-battle").href;
    }
  });
  document.getElementById("new-battle").addEventListener("click", forget);

  // Whether this page was reloaded (or reached with back/forward), not opened anew.
  function reloaded() {
    var entries = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation") : [];
    var how = entries.length ? entries[0].type : "navigate";
    return how === "reload" || how === "back_forward";
  }

  // Whether any answer of the view's last turn is still streaming (the database holds no
  // partial text: its chunks come again from the stream, from where the turn began).
  function streaming(view) {
    var last = (view.turns || [])[(view.turns || []).length - 1];
    return !!last && (last.left.status === "streaming" || last.right.status === "streaming");
  }

  // The battle this tab had before a reload: its view, then its stream; a battle the server
  // no longer knows (expired token, another database) is dropped. A finished battle (voted,
  // or failed) is shown again after a reload only, not when the rater comes back to the page.
  function resume() {
    var was = kept();
    if (!was) { return; }
    if (was.voted && !reloaded()) {
      forget();
      return;
    }
    battle = {id: was.id, token: was.token, base: root.dataset.start + "/" + was.id};
    lastId = typeof was.lastId === "string" ? was.lastId : "";
    turnFrom = typeof was.turnFrom === "string" ? was.turnFrom : "";
    statusLine.textContent = "Loading your battle…";
    sendButton.disabled = true;
    fetch(battle.base + "?token=" + encodeURIComponent(battle.token),
          {credentials: "same-origin"}).then(function (r) {
      if (r.ok) { return r.json(); }
      if (r.status >= 400 && r.status < 500) { forget(); }
      return null;
    }).then(function (view) {
      if (!view) { dropped(); return; }
      if (view.status === "failed" && !reloaded()) { forget(); dropped(); return; }
      root.dataset.battleId = String(battle.id);
      categoryBox.hidden = true;
      applyView(view);
      if (view.status === "voted") {
        if (was.voted) {
          voteForm.dataset.voted = was.voted;
          var chosen = voteForm.querySelector('[data-choice="' + was.voted + '"]');
          if (chosen) { chosen.classList.add("chosen"); }
        }
        setState("voted");
        statusLine.textContent = "Your vote is recorded.";
        fetchReveal(0);
      } else if (view.status === "open") {
        setState("open");
        if (streaming(view)) { lastId = turnFrom; }
        openStream(false);
      } else {
        setState(view.status, view.failure);
      }
      root.dataset.resumed = "1";
    }, dropped);
  }

  function dropped() {
    battle = null;
    lastId = "";
    turnFrom = "";
    sendButton.disabled = false;
    statusLine.textContent = "";
  }

  resume();
})();
