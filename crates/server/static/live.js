// Live parts of console pages (the floor, the approvals inbox): an element with
// `data-stream` listens to that server-sent event stream; each `live` event carries the part
// rendered again, swapped in place with the keyboard focus put back on the same element. While
// someone is typing in a form inside the part, the swap waits until they leave it, so nothing
// typed is lost. No reload, no inline script.
"use strict";
(function () {
  if (!window.EventSource) return;
  for (const live of document.querySelectorAll("[data-stream]")) {
    let waiting = null;
    const busy = () => {
      const typing = document.activeElement && live.contains(document.activeElement)
        && document.activeElement.matches("input, textarea, select");
      const filled = Array.from(live.querySelectorAll("input:not([type=hidden]), textarea"))
        .some((i) => i.value !== "");
      return typing || filled;
    };
    const swap = (html) => {
      if (busy()) { waiting = html; return; }
      waiting = null;
      const focused = document.activeElement && live.contains(document.activeElement)
        ? document.activeElement.id : "";
      live.innerHTML = html;
      live.dataset.updated = String(Date.now());
      if (focused) {
        const again = document.getElementById(focused);
        if (again) again.focus({ preventScroll: true });
      }
    };
    live.addEventListener("focusout", () => setTimeout(() => { if (waiting !== null) swap(waiting); }, 0));
    new EventSource(live.dataset.stream).addEventListener("live", (event) => swap(event.data));
  }
})();
