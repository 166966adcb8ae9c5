/* nbcode sweep player: a play button beside a slider steps it through its positions, one frame
 * per tick, by setting the slider and sending it the same "input" event a reader's move sends.
 * Loaded only by sweeps that have a playable slider; sweep.js itself is unchanged. */
(function () {
  "use strict";
  if (window.nbcodeSweepPlay) { return; }
  var PLAY = "\u25B6", PAUSE = "\u23F8";

  function setValue(input, v) {
    input.value = String(v);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function wire(root, btn) {
    var name = btn.getAttribute("data-sweep-play");
    var input = null;
    Array.prototype.forEach.call(root.querySelectorAll("input[data-sweep-control]"), function (el) {
      if (el.getAttribute("data-sweep-control") === name) input = el;
    });
    if (!input) return;
    var ms = parseInt(btn.getAttribute("data-interval"), 10) || 400, timer = null;
    var label = btn.getAttribute("data-label") || name;
    function show(playing) {
      btn.textContent = playing ? PAUSE : PLAY;
      btn.setAttribute("aria-pressed", playing ? "true" : "false");
      btn.setAttribute("aria-label", (playing ? "pause " : "play ") + label);
      root.setAttribute("data-playing", playing ? "1" : "0");
    }
    function stop() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      show(false);
    }
    function tick() {
      var v = parseInt(input.value, 10), hi = parseInt(input.max, 10);
      if (v < hi) setValue(input, v + 1);
      if (v + 1 >= hi) stop();
    }
    btn.addEventListener("click", function () {
      if (timer !== null) { stop(); return; }
      // at the end, play again from the start
      if (parseInt(input.value, 10) >= parseInt(input.max, 10)) setValue(input, parseInt(input.min, 10));
      show(true);
      timer = setInterval(tick, ms);
    });
    // a reader who takes the slider stops the player
    input.addEventListener("pointerdown", stop);
    input.addEventListener("keydown", stop);
    show(false);
  }

  function attach(id) {
    var root = document.getElementById(id);
    if (!root || root.getAttribute("data-play-attached")) return;
    root.setAttribute("data-play-attached", "1");
    Array.prototype.forEach.call(root.querySelectorAll("button[data-sweep-play]"), function (btn) { wire(root, btn); });
  }

  window.nbcodeSweepPlay = { attach: attach };
})();
