// Small behaviours shared by every page. htmx does the rest.
(function () {
  "use strict";

  // A request that never got an answer (network down, server gone)
  // still tells the person something happened.
  document.addEventListener("htmx:sendError", function () {
    toast("The server could not be reached. Check your connection and try again.");
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
