/* nbcode sweep renderer: draws precomputed frames as SVG, with no kernel.
 * The frames come from nbcode.sweep (Python); the layout constants match encode.LAYOUT. */
(function () {
  "use strict";
  if (window.nbcodeSweep) { return; }
  var L = { ml: 58, mr: 12, mt: 28, mb: 44 };
  var SVGNS = "http://www.w3.org/2000/svg";

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  // A pooled array is {"q": [m, e], "d": [count, differences...]} (values count * m * 10^e, or
  // 10^(count * m * 10^e) with "log"); it is decoded in place the first time it is drawn.
  function arr(pool, i) {
    var it = pool[i];
    if (it === null || typeof it !== "object" || Array.isArray(it)) return it;
    var step = it.q[0] * Math.pow(10, it.q[1]), out = new Array(it.d.length), k = 0;
    for (var j = 0; j < it.d.length; j++) {
      if (it.d[j] === null) { out[j] = null; continue; }
      k += it.d[j];
      out[j] = it.log ? Math.pow(10, k * step) : k * step;
    }
    pool[i] = out;
    return out;
  }
  // A line is [x, y, style] or [x, y, style, n]: pool arrays x and y (their first n values).
  function lineOf(ln, doc) {
    var x = arr(doc.pool, ln[0]), y = arr(doc.pool, ln[1]), st = doc.styles[ln[2]];
    if (ln.length > 3) { x = x.slice(0, ln[3]); y = y.slice(0, ln[3]); }
    return { x: x, y: y, label: st.label, color: st.color, dash: st.dash, lw: st.lw, marker: st.marker, ms: st.ms, alpha: st.alpha };
  }
  function finite(v, log) { return v !== null && isFinite(v) && (!log || v > 0); }
  function tf(v, log) { return log ? Math.log10(v) : v; }

  function dataRange(vals, log) {
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < vals.length; i++) {
      var v = vals[i];
      if (finite(v, log)) { var t = tf(v, log); if (t < lo) lo = t; if (t > hi) hi = t; }
    }
    if (lo === Infinity) { return log ? [0, 1] : [0, 1]; }
    if (lo === hi) { var d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
    var pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  }

  function niceTicks(lo, hi) {
    var span = hi - lo, n = 5;
    var step = Math.pow(10, Math.floor(Math.log10(span / n)));
    var err = (n / span) * step;
    if (err <= 0.15) step *= 10; else if (err <= 0.35) step *= 5; else if (err <= 0.75) step *= 2;
    var out = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return out;
  }
  function fmtTick(t) {
    var a = Math.abs(t);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) { return t.toExponential(0).replace("e+", "e"); }
    return String(parseFloat(t.toPrecision(6)));
  }
  function logTicks(lo, hi) {
    var out = [], a = Math.ceil(lo - 1e-9), b = Math.floor(hi + 1e-9);
    var every = Math.max(1, Math.ceil((b - a + 1) / 7));
    for (var k = a; k <= b; k++) { if ((k - a) % every === 0) out.push(k); }
    return out;
  }

  function axisSpec(vals, lim, log) {
    var r = lim ? [tf(lim[0], log), tf(lim[1], log)] : dataRange(vals, log);
    return { lo: r[0], hi: r[1], log: log };
  }

  function renderPanel(ax, doc, x0, W, H) {
    var pool = doc.pool, lines = ax.lines.map(function (ln) { return lineOf(ln, doc); });
    var head = doc.heads[ax.head];
    var refs = ax.refs.map(function (r) {
      var st = doc.styles[r[2]];
      return { axis: r[0], value: r[1], label: st.label, color: st.color, dash: st.dash, lw: st.lw };
    });
    var pw = W - L.ml - L.mr, ph = H - L.mt - L.mb;
    var xlog = head.xscale === "log", ylog = head.yscale === "log";
    var xs = [], ys = [], i, j;
    lines.forEach(function (ln) { xs = xs.concat(ln.x); ys = ys.concat(ln.y); });
    refs.forEach(function (r) { (r.axis === "x" ? xs : ys).push(r.value); });
    var X = axisSpec(xs, head.xlim, xlog), Y = axisSpec(ys, head.ylim, ylog);
    function px(v) { var p = L.ml + (tf(v, xlog) - X.lo) / (X.hi - X.lo) * pw; return Math.max(-1e4, Math.min(1e4, p)); }
    function py(v) { var p = L.mt + ph - (tf(v, ylog) - Y.lo) / (Y.hi - Y.lo) * ph; return Math.max(-1e4, Math.min(1e4, p)); }
    var clip = "nbclip" + Math.random().toString(36).slice(2, 10);
    var s = '<g transform="translate(' + x0 + ',0)">';
    s += '<defs><clipPath id="' + clip + '"><rect x="' + L.ml + '" y="' + L.mt + '" width="' + pw + '" height="' + ph + '"/></clipPath></defs>';
    if (ax.bg !== null && ax.bg !== undefined) {
      s += '<image href="' + pool[ax.bg] + '" x="' + L.ml + '" y="' + L.mt + '" width="' + pw + '" height="' + ph + '" preserveAspectRatio="none"/>';
    }
    // grid and ticks
    var xt = xlog ? logTicks(X.lo, X.hi) : niceTicks(X.lo, X.hi);
    var yt = ylog ? logTicks(Y.lo, Y.hi) : niceTicks(Y.lo, Y.hi);
    function tickLabel(t, log) { return log ? '10<tspan dy="-6" font-size="9">' + t + "</tspan>" : esc(fmtTick(t)); }
    xt.forEach(function (t) {
      var p = px(xlog ? Math.pow(10, t) : t);
      s += '<line x1="' + p + '" x2="' + p + '" y1="' + L.mt + '" y2="' + (L.mt + ph) + '" stroke="#000" stroke-opacity="0.12"/>';
      s += '<text x="' + p + '" y="' + (L.mt + ph + 15) + '" text-anchor="middle" font-size="12">' + tickLabel(t, xlog) + "</text>";
    });
    yt.forEach(function (t) {
      var p = py(ylog ? Math.pow(10, t) : t);
      s += '<line x1="' + L.ml + '" x2="' + (L.ml + pw) + '" y1="' + p + '" y2="' + p + '" stroke="#000" stroke-opacity="0.12"/>';
      s += '<text x="' + (L.ml - 5) + '" y="' + (p + 4) + '" text-anchor="end" font-size="12">' + tickLabel(t, ylog) + "</text>";
    });
    s += '<line x1="' + L.ml + '" x2="' + (L.ml + pw) + '" y1="' + (L.mt + ph) + '" y2="' + (L.mt + ph) + '" stroke="#333"/>';
    s += '<line x1="' + L.ml + '" x2="' + L.ml + '" y1="' + L.mt + '" y2="' + (L.mt + ph) + '" stroke="#333"/>';
    // data
    s += '<g clip-path="url(#' + clip + ')">';
    refs.forEach(function (r) {
      var dash = r.dash ? ' stroke-dasharray="' + r.dash + '"' : "";
      if (r.axis === "y") { var q = py(r.value); s += '<line x1="' + L.ml + '" x2="' + (L.ml + pw) + '" y1="' + q + '" y2="' + q + '" stroke="' + r.color + '" stroke-width="' + r.lw + '"' + dash + "/>"; }
      else { var q2 = px(r.value); s += '<line x1="' + q2 + '" x2="' + q2 + '" y1="' + L.mt + '" y2="' + (L.mt + ph) + '" stroke="' + r.color + '" stroke-width="' + r.lw + '"' + dash + "/>"; }
    });
    lines.forEach(function (ln) {
      var x = ln.x, y = ln.y, d = "", pen = false;
      for (i = 0; i < x.length; i++) {
        if (finite(x[i], xlog) && finite(y[i], ylog)) {
          d += (pen ? "L" : "M") + px(x[i]).toFixed(1) + " " + py(y[i]).toFixed(1);
          pen = true;
        } else { pen = false; }
      }
      var op = ln.alpha < 1 ? ' opacity="' + ln.alpha + '"' : "";
      if (ln.dash !== "none" && d) {
        s += '<path d="' + d + '" fill="none" stroke="' + ln.color + '" stroke-width="' + ln.lw + '"' +
          (ln.dash ? ' stroke-dasharray="' + ln.dash + '"' : "") + ' stroke-linejoin="round"' + op + "/>";
      }
      if (ln.marker) {
        var r = ln.ms / 2, m = "";
        for (j = 0; j < x.length; j++) {
          if (!(finite(x[j], xlog) && finite(y[j], ylog))) continue;
          var cx = px(x[j]), cy = py(y[j]);
          var stroke = '" stroke="' + ln.color + '" stroke-width="1.5"/>';
          if (ln.marker === "s") m += '<rect x="' + (cx - r) + '" y="' + (cy - r) + '" width="' + 2 * r + '" height="' + 2 * r + '"/>';
          else if (ln.marker === "x") m += '<path d="M' + (cx - r) + " " + (cy - r) + "L" + (cx + r) + " " + (cy + r) + "M" + (cx - r) + " " + (cy + r) + "L" + (cx + r) + " " + (cy - r) + stroke;
          else if (ln.marker === "+") m += '<path d="M' + (cx - r) + " " + cy + "L" + (cx + r) + " " + cy + "M" + cx + " " + (cy - r) + "L" + cx + " " + (cy + r) + stroke;
          else m += '<circle cx="' + cx.toFixed(1) + '" cy="' + cy.toFixed(1) + '" r="' + (ln.marker === "." ? r / 2 : r) + '"/>';
        }
        s += '<g fill="' + ln.color + '"' + op + ">" + m + "</g>";
      }
    });
    ax.texts.forEach(function (t) {
      if (!finite(t.x, xlog) || !finite(t.y, ylog)) return;
      var anchor = t.ha === "center" ? "middle" : t.ha === "right" ? "end" : "start";
      var dy = t.va === "top" ? 12 : t.va === "center" ? 4 : -3;
      s += '<text x="' + px(t.x) + '" y="' + (py(t.y) + dy) + '" fill="' + t.color + '" font-size="12" text-anchor="' + anchor + '">' + esc(t.s) + "</text>";
    });
    s += "</g>";
    // titles
    if (head.title) s += '<text x="' + (L.ml + pw / 2) + '" y="' + (L.mt - 10) + '" text-anchor="middle" font-size="14">' + esc(head.title) + "</text>";
    if (head.xlabel) s += '<text x="' + (L.ml + pw / 2) + '" y="' + (H - 6) + '" text-anchor="middle" font-size="13">' + esc(head.xlabel) + "</text>";
    if (head.ylabel) s += '<text transform="translate(14,' + (L.mt + ph / 2) + ') rotate(-90)" text-anchor="middle" font-size="12">' + esc(head.ylabel) + "</text>";
    // legend
    var items = lines.filter(function (l) { return l.label; }).concat(refs.filter(function (r) { return r.label; }));
    if ((head.legend || refs.some(function (r) { return r.label; })) && items.length) {
      var lx = L.ml + pw - 150, ly = L.mt + 6;
      s += '<rect x="' + (lx - 4) + '" y="' + (ly - 2) + '" width="152" height="' + (items.length * 16 + 4) + '" fill="#fff" fill-opacity="0.8"/>';
      items.forEach(function (it, k) {
        var yy = ly + 8 + k * 16;
        var dash = it.dash && it.dash !== "none" ? ' stroke-dasharray="' + it.dash + '"' : "";
        if (it.dash === "none") s += '<circle cx="' + (lx + 10) + '" cy="' + yy + '" r="3.5" fill="' + it.color + '"/>';
        else s += '<line x1="' + lx + '" x2="' + (lx + 20) + '" y1="' + yy + '" y2="' + yy + '" stroke="' + it.color + '" stroke-width="2"' + dash + "/>";
        s += '<text x="' + (lx + 26) + '" y="' + (yy + 4) + '" font-size="12">' + esc(it.label) + "</text>";
      });
    }
    return s + "</g>";
  }

  // doc: the sweep's document (pool, styles, panels); frame: one of its frames.
  function renderFrame(frame, doc) {
    var n = frame.axes.length, W = Math.floor(frame.w / n), H = frame.h;
    var s = '<svg xmlns="' + SVGNS + '" class="nbcode-sweep-svg" viewBox="0 0 ' + frame.w + " " + H + '" width="100%" style="max-width:' + frame.w +
      'px;font-family:sans-serif" role="img" aria-label="' + esc(frame.caption || "sweep figure") + '">';
    for (var k = 0; k < n; k++) s += renderPanel(doc.panels[frame.axes[k]], doc, k * W, W, H);
    return s + "</svg>";
  }

  function mount(id) {
    var root = document.getElementById(id);
    if (!root || root.getAttribute("data-mounted")) return;
    root.setAttribute("data-mounted", "1");
    var data = JSON.parse(root.querySelector("script.nbcode-sweep-data").textContent);
    var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-sweep-control]"));
    var fig = root.querySelector(".nbcode-sweep-figure"), cap = root.querySelector(".nbcode-sweep-caption");
    function update() {
      var idx = 0;
      inputs.forEach(function (el, k) {
        var c = data.controls[k], i = parseInt(el.value, 10);
        idx = idx * c.labels.length + i;
        var out = root.querySelector('output[data-for="' + c.name + '"]');
        if (out) out.textContent = c.labels[i];
      });
      var frame = data.frames[data.order[idx]];
      fig.innerHTML = renderFrame(frame, data);
      cap.textContent = frame.caption || "";
      root.setAttribute("data-frame", String(idx));
    }
    inputs.forEach(function (el) { el.addEventListener("input", update); el.addEventListener("change", update); });
    update();
  }

  window.nbcodeSweep = { mount: mount, renderFrame: renderFrame };
})();
