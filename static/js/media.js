// Uploads go straight from the browser to object storage: Keel signs
// each one (for this name, type and size only), the browser PUTs the
// file with a progress bar, then asks Keel to check what was stored.
(function () {
  "use strict";

  function csrf() {
    var headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRF-Token"] || ""; } catch (e) { return ""; }
  }

  function row(file) {
    var li = document.createElement("li");
    var name = document.createElement("span");
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    var status = document.createElement("span");
    status.className = "upload-status";
    li.append(name, bar, status);
    document.getElementById("media-uploads").appendChild(li);
    return { bar: bar, status: status, li: li };
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error((data.error && data.error.message) || "The upload was refused (" + r.status + ").");
        return data;
      });
    });
  }

  function put(upload, file, ui) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(upload.method, upload.url);
      Object.keys(upload.headers || {}).forEach(function (k) { xhr.setRequestHeader(k, upload.headers[k]); });
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) ui.bar.value = Math.round((e.loaded / e.total) * 100);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new Error("Storage refused the file (" + xhr.status + ")."));
      });
      xhr.addEventListener("error", function () { reject(new Error("The upload failed; check your connection.")); });
      xhr.send(file);
    });
  }

  function send(file) {
    var ui = row(file);
    ui.status.textContent = "Uploading…";
    return post(zone.dataset.uploadUrl, { filename: file.name, content_type: file.type, size: file.size })
      .then(function (up) {
        return put(up, file, ui).then(function () { return post(up.confirm_url, {}); });
      })
      .then(function () {
        ui.bar.value = 100;
        ui.status.textContent = "Ready";
        ui.li.classList.add("upload-done");
      })
      .catch(function (err) {
        ui.status.textContent = err.message;
        ui.li.classList.add("upload-failed");
      });
  }

  function sendAll(files) {
    Promise.all(Array.prototype.map.call(files, send)).then(function () {
      if (document.querySelector("#media-uploads .upload-done")) {
        setTimeout(function () { window.location.reload(); }, 600);
      }
    });
  }

  var zone = document.getElementById("media-drop");
  if (!zone) return;
  var input = document.getElementById("media-file");
  input.addEventListener("change", function () { sendAll(input.files); input.value = ""; });
  zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    zone.classList.remove("dragging");
    sendAll(e.dataTransfer.files);
  });
})();
