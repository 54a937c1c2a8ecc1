/* The attempt page: save each answer as it is chosen, count down the server's remaining time, hand in at zero. */
(function () {
  "use strict";
  var form = document.getElementById("attempt-form");
  if (!form) { return; }
  var statusLine = document.getElementById("save-status");
  var remainingEl = document.getElementById("remaining");
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var inFlight = {}, pending = {}, submitting = false;

  function takeFreshToken(response) {
    // The page's token expires after an hour; every answer of the server brings a fresh one for the next
    // save and for the hand-in form.
    var fresh = response.headers.get("X-CSRFToken");
    if (fresh) {
      token = fresh;
      form.querySelector('input[name="csrf_token"]').value = fresh;
    }
  }

  function note(fieldset, text, isError) {
    var el = fieldset.querySelector('[data-role="saved"]');
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  function choicesOf(fieldset) {
    return Array.prototype.filter.call(fieldset.querySelectorAll("input"), function (i) { return i.checked; })
      .map(function (i) { return parseInt(i.value, 10); });
  }

  function save(fieldset) {
    var position = parseInt(fieldset.dataset.position, 10);
    if (inFlight[position]) { pending[position] = true; return; }  // keep order: send the latest after this one
    inFlight[position] = true;
    note(fieldset, "正在保存…");
    fetch(form.dataset.saveUrl, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({question: position, choices: choicesOf(fieldset)})
    }).then(function (response) {
      takeFreshToken(response);
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          note(fieldset, "已保存");
          return;
        }
        var message = (body.error && body.error.message) || ("保存失败（" + response.status + "），请重试。");
        note(fieldset, message, true);
        if (response.status === 409) { statusLine.textContent = message; window.location.reload(); }
      });
    }).then(finish, function () {
      note(fieldset, "网络中断，答案尚未保存；3 秒后自动重试。", true);
      setTimeout(function () { pending[position] = true; finish(); }, 3000);
    });

    function finish() {
      inFlight[position] = false;
      if (pending[position]) { pending[position] = false; save(fieldset); }
    }
  }

  form.addEventListener("change", function (event) {
    var fieldset = event.target.closest("fieldset.question");
    if (fieldset) { save(fieldset); }
  });

  form.addEventListener("submit", function (event) {
    if (submitting) { return; }
    var unanswered = Array.prototype.filter.call(form.querySelectorAll("fieldset.question"),
      function (f) { return choicesOf(f).length === 0; }).length;
    if (remaining > 0 && unanswered && !window.confirm("还有 " + unanswered + " 题未作答，确定交卷？")) {
      event.preventDefault();
      return;
    }
    submitting = true;
    document.getElementById("submit-button").disabled = true;
  });

  var remaining = parseInt(remainingEl.dataset.seconds, 10);
  var endsAt = Date.now() + remaining * 1000;

  function resync() {
    // Every few minutes: the server's remaining time (the only clock that counts) and a fresh token.
    fetch(form.dataset.stateUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        takeFreshToken(response);
        return response.ok ? response.json() : null;
      })
      .then(function (state) {
        if (!state) { return; }
        if (state.state === "graded") { window.location.href = form.dataset.resultUrl; return; }
        endsAt = Date.now() + state.remaining_seconds * 1000;
      })
      .catch(function () { /* offline: the next resync tries again */ });
  }
  setInterval(resync, 180000);
  function tick() {
    remaining = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
    remainingEl.textContent = Math.floor(remaining / 60) + " 分 " + (remaining % 60) + " 秒";
    if (remaining === 0) {
      statusLine.textContent = "答题时间到，正在交卷…";
      if (!submitting) { submitting = true; form.submit(); }
      return;
    }
    setTimeout(tick, 1000);
  }
  tick();
})();
