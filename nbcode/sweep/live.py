"""The live view of a sweep in Jupyter: an anywidget that draws frames with ``sweep.js``."""

from __future__ import annotations

import anywidget
import traitlets

from nbcode.sweep.assets import JS_PATH

__all__ = ["FrameView"]

_ESM = (
    JS_PATH.read_text()
    + """
function render({ model, el }) {
  var fig = document.createElement("div"), cap = document.createElement("div");
  cap.style.fontSize = "90%";
  el.appendChild(fig); el.appendChild(cap);
  function draw() {
    var msg = model.get("frame");
    if (!msg) return;
    var doc = JSON.parse(msg), frame = doc.frames[doc.order[0]];
    fig.innerHTML = window.nbcodeSweep.renderFrame(frame, doc);
    cap.textContent = frame.caption || "";
  }
  model.on("change:frame", draw);
  draw();
}
export default { render };
"""
)


class FrameView(anywidget.AnyWidget):
    """Shows the frame JSON in ``frame`` (set by :meth:`nbcode.sweep.Sweep.widget`)."""

    _esm = _ESM
    frame = traitlets.Unicode("").tag(sync=True)
