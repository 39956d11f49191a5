// ZINC instructor pages: a running batch's page follows the batch's event
// stream and refreshes its fragments on each event; control buttons report
// their answer and refresh the fragments at once.

// The pages run under a Content-Security-Policy without 'unsafe-eval', so
// htmx evaluates nothing (allowEval is off): what needed an expression in an
// attribute is done here.

// zincLive is true while the event stream is connected; the fragments are
// polled only while it is not, so a server without the stream, or one that
// dropped it, still updates the page.
window.zincLive = false;

// Poll a running batch's fragments while the stream is down: progress every
// second, the rows every other second, and both once more when it ends.
document.addEventListener("DOMContentLoaded", function () {
  var progress = document.getElementById("progress");
  if (!progress || progress.dataset.status !== "running") {
    return;
  }
  var tick = 0;
  var timer = setInterval(function () {
    var progress = document.getElementById("progress");
    if (!progress || progress.dataset.status !== "running") {
      clearInterval(timer);
      htmx.trigger("#deliveries", "refresh");
      return;
    }
    if (window.zincLive) {
      return;
    }
    tick++;
    htmx.trigger(progress, "refresh");
    if (tick % 2 === 0) {
      htmx.trigger("#deliveries", "refresh");
    }
  }, 1000);
});

// The concurrency button sends the input's value as a JSON number: json-enc
// takes typed values from hx-vals, read again when the body is encoded.
document.addEventListener("htmx:configRequest", function (evt) {
  if (evt.detail.elt.id !== "set-concurrency") {
    return;
  }
  var value = Number(document.getElementById("concurrency").value);
  evt.detail.elt.setAttribute("hx-vals", JSON.stringify({ concurrency: value }));
});

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

// The sign-in page asked for by a link from another site is shown at the
// link's URL, token included. When its button is pressed, the form holds
// all it needs: take the token out of this page's entry in the tab's
// history, or Back from the signed-in page would show it again. (Left
// alone until then, so Back to this page still offers to sign in.)
document.addEventListener("submit", function (evt) {
  if (evt.target.id !== "sign-in" || !window.history || !window.URL) {
    return;
  }
  var url = new URL(window.location.href);
  if (!url.searchParams.has("token")) {
    return;
  }
  url.searchParams.delete("token");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
});
