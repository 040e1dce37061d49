// The floor's live part (issue 14, item 6): the server sends it again, rendered, whenever the
// floor changes; it is swapped in place, and the focus put back on the same link, so a
// supervisor can keep working with the keyboard. No reload, no inline script.
"use strict";
(function () {
  const live = document.getElementById("floor-live");
  if (!live || !window.EventSource) return;
  const stream = new EventSource(live.dataset.stream);
  stream.addEventListener("floor", function (event) {
    const focused = document.activeElement && live.contains(document.activeElement)
      ? document.activeElement.id : "";
    live.innerHTML = event.data;
    live.dataset.updated = String(Date.now());
    if (focused) {
      const again = document.getElementById(focused);
      if (again) again.focus({ preventScroll: true });
    }
  });
})();
