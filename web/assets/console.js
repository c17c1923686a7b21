// telcolake console: the search page's live count. As conditions change,
// it asks the console for the count of the same query the API answers
// (debounced), and keeps the export link and the URL in step.
(function () {
  "use strict";
  var form = document.getElementById("filter");
  var out = document.getElementById("count");
  if (!form || !out) return;
  var timer = null, seq = 0;
  function query() {
    var q = new URLSearchParams();
    new FormData(form).forEach(function (v, k) {
      v = String(v).trim();
      if (v !== "" && k !== "lang") q.append(k, v);
    });
    return q;
  }
  function update() {
    var q = query(), mine = ++seq;
    out.textContent = out.dataset.counting;
    fetch(form.dataset.countUrl + "?" + q.toString(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, body: b}; }); })
      .then(function (res) {
        if (mine !== seq) return;
        out.textContent = res.ok ? res.body.count.toLocaleString(document.documentElement.lang) + " " + out.dataset.suffix
                                 : (res.body.detail || "?");
        out.dataset.count = res.ok ? String(res.body.count) : "";
        var exp = document.getElementById("export");
        if (exp) exp.href = form.dataset.countUrl + "?format=csv&" + q.toString();
        var save = document.querySelector("#save-group input[name=conditions]");
        if (save) save.value = q.toString();
      })
      .catch(function () { if (mine === seq) out.textContent = "?"; });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  });
})();
