// Small behaviours shared by every page. htmx does the rest.
(function () {
  "use strict";

  // A request that never got an answer (network down, server gone)
  // still tells the person something happened.
  document.addEventListener("htmx:sendError", function () {
    toast("The server could not be reached. Check your connection and try again.");
  });

  // New leads refresh the lead list live, unless leads are selected
  // for a bulk change: the refresh would lose the selection.
  document.addEventListener("htmx:confirm", function (e) {
    var trigger = e.detail.triggeringEvent;
    if (trigger && trigger.type === "sse:leads" &&
        document.querySelector('#lead-bulk input[type="checkbox"]:checked')) {
      e.preventDefault();
    }
  });

  // Toasts that arrive live leave by themselves. A stream back after
  // missing more than it can replay says "stale": an open notification
  // centre reads its list afresh.
  document.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail.type === "stale" && document.getElementById("notification-list")) {
      window.location.reload();
      return;
    }
    if (e.detail.type !== "toast") return;
    var region = document.getElementById("toasts");
    var el = region && region.lastElementChild;
    if (el) setTimeout(function () { el.remove(); }, 8000);
  });

  function toast(text) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var el = document.createElement("div");
    el.className = "toast toast-error";
    el.setAttribute("role", "alert");
    el.textContent = text;
    region.appendChild(el);
    setTimeout(function () { el.remove(); }, 8000);
  }
})();
