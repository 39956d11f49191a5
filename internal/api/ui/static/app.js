// ZINC instructor pages: a running batch's page follows the batch's event
// stream and refreshes its fragments on each event; control buttons report
// their answer and refresh the fragments at once.

// zincLive is true while the event stream is connected; the fragments poll
// (hx-trigger "every 1s [!window.zincLive]") only while it is not, so a
// server without the stream, or one that dropped it, still updates the page.
window.zincLive = false;

document.addEventListener("DOMContentLoaded", function () {
  var progress = document.getElementById("progress");
  if (!progress || !window.EventSource || progress.dataset.status !== "running") {
    return;
  }
  var source = new EventSource("/v1/batches/" + encodeURIComponent(progress.dataset.batch) + "/events");
  // Coalesce bursts of events into one request per fragment.
  var queued = {};
  function refresh(target) {
    if (queued[target]) {
      return;
    }
    queued[target] = setTimeout(function () {
      queued[target] = null;
      htmx.trigger(target, "refresh");
    }, 100);
  }
  source.addEventListener("open", function () { window.zincLive = true; });
  source.addEventListener("error", function () {
    // The browser reconnects (resuming with Last-Event-ID) unless the
    // server refused the stream; either way poll until it is back.
    window.zincLive = false;
  });
  source.addEventListener("progress", function () { refresh("#progress"); });
  source.addEventListener("graded", function () {
    refresh("#progress");
    refresh("#deliveries");
  });
  source.addEventListener("completed", function () {
    source.close();
    window.zincLive = false;
    refresh("#progress");
    refresh("#deliveries");
  });
});

document.addEventListener("htmx:afterRequest", function (evt) {
  var elt = evt.detail.elt;
  if (!elt.classList || !elt.classList.contains("control")) {
    return;
  }
  var xhr = evt.detail.xhr;
  var out = document.getElementById("control-result");
  var body = {};
  try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
  if (xhr.status >= 200 && xhr.status < 300) {
    out.textContent = (elt.dataset.done || "done") + " (" + xhr.status + ")";
    out.className = "ok";
    if (elt.dataset.navigate && body.id) {
      window.location.assign("/ui/batches/" + encodeURIComponent(body.id));
      return;
    }
  } else {
    out.textContent = "refused (" + xhr.status + "): " + (body.error || xhr.statusText);
    out.className = "err";
  }
  htmx.trigger("#progress", "refresh");
  htmx.trigger("#deliveries", "refresh");
});
