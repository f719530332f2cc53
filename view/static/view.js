// wit view: the only script. It shows how far the image embeddings are (polling /status until
// they are ready) and submits the filter form when a select changes. Everything else works
// without it.
(function () {
  "use strict";
  var el = document.getElementById("embed-status");
  function poll() {
    fetch("/status", { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (s) {
      var q = s.search;
      if (!q) { return; }
      if (q.error) { el.textContent = "embedding failed: " + q.error; return; }
      if (q.ready) {
        el.textContent = q.embedded.toLocaleString() + " images searchable" + (q.unusable ? " (" + q.unusable + " unusable)" : "");
        return;
      }
      el.textContent = "embedding images: " + q.embedded.toLocaleString() + " / " + q.rows.toLocaleString();
      setTimeout(poll, 2000);
    }).catch(function () { setTimeout(poll, 5000); });
  }
  if (el) { poll(); }
  var form = document.getElementById("filters");
  if (form) {
    form.querySelectorAll("select").forEach(function (s) {
      s.addEventListener("change", function () { form.submit(); });
    });
  }
})();
