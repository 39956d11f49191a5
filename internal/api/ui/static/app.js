// ZINC instructor pages: report the answer of a control button and refresh
// the live fragments right away instead of waiting for the next poll.
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
