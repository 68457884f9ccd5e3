/* Ondo UI behaviour. The only application script: CSP forbids inline scripts and handlers.
 *
 * Hooks (see docs/ui.md):
 *   data-width="42.5"             element.style.width = "42.5%" (clamped 0–100); bars, meters
 *   data-confirm="Message"        on <form>, submit <button> or <a>: confirmation dialog first
 *   hx-confirm="Message"          htmx requests use the same dialog
 *   data-copy="#selector"         button copies the value/text of the target to the clipboard
 *   data-autosubmit               on <select>/<input>: submit the form on change
 *   data-dismiss                  button inside .toast / .alert closes it
 *   data-autodismiss="6000"       on .toast: remove after N ms
 *   data-nav-toggle               opens/closes the sidebar on small screens
 *   data-no-progress              htmx requests from inside this element do not show the global bar
 *   <time data-relative datetime>  text becomes "3時間前" (Intl.RelativeTimeFormat) if < 7 days old
 *   data-chart="line|bar|funnel|doughnut" + data-chart-source="json-id"  chart (Chart.js 4)
 * Everything is initialised on DOMContentLoaded and again inside content swapped in by htmx.
 */
(function () {
  "use strict";

  var LANG = (document.documentElement.getAttribute("lang") || "ja").toLowerCase();
  var IS_JA = LANG.indexOf("ja") === 0;
  var REDUCED_MOTION = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  /* Strings: read from <body data-i18n-*> so they are translated server-side. */
  function t(key, fallback) {
    var value = document.body && document.body.dataset ? document.body.dataset["i18n" + key] : null;
    return value || fallback;
  }

  function qsa(root, selector) {
    var list = [];
    if (!root) return list;
    if (root.matches && root.matches(selector)) list.push(root);
    if (root.querySelectorAll) list.push.apply(list, root.querySelectorAll(selector));
    return list;
  }

  /* ---------------------------------------------------------------- number formatting */
  var fmtCache = {};
  function formatter(key, options) {
    if (!fmtCache[key]) fmtCache[key] = new Intl.NumberFormat(IS_JA ? "ja-JP" : "en-US", options);
    return fmtCache[key];
  }
  /* Japanese business units: 12,500,000 → "1,250万", 5,000,000,000 → "50億", 123,400,000 → "1.2億". */
  function manOku(value) {
    var abs = Math.abs(value);
    if (abs >= 1e8) return formatter("oku", { maximumFractionDigits: 1 }).format(value / 1e8) + "億";
    if (abs >= 1e4) return formatter("man", { maximumFractionDigits: 0 }).format(value / 1e4) + "万";
    return formatter("cnt", { maximumFractionDigits: 0 }).format(value);
  }
  function formatValue(value, unit, compact) {
    if (value === null || value === undefined || isNaN(value)) return "–";
    switch (unit) {
      case "yen":
        if (compact && Math.abs(value) >= 10000) {
          return IS_JA
            ? manOku(value) + "円"
            : formatter("yen-ce", { style: "currency", currency: "JPY", notation: "compact", maximumFractionDigits: 1 }).format(value);
        }
        return formatter("yen", { style: "currency", currency: "JPY", maximumFractionDigits: 0 }).format(value);
      case "percent":
        return formatter("pct", { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(value) + "%";
      case "count":
        if (compact && Math.abs(value) >= 10000) return IS_JA ? manOku(value) : formatter("cnt-c", { notation: "compact", maximumFractionDigits: 1 }).format(value);
        return formatter("cnt", { maximumFractionDigits: 0 }).format(value);
      default:
        if (compact && Math.abs(value) >= 10000) return IS_JA ? manOku(value) : formatter("num-c", { notation: "compact", maximumFractionDigits: 1 }).format(value);
        return formatter("num", { maximumFractionDigits: 2 }).format(value);
    }
  }

  /* ---------------------------------------------------------------- widths */
  function applyWidths(root) {
    qsa(root, "[data-width]").forEach(function (el) {
      var value = parseFloat(String(el.getAttribute("data-width")).replace(",", "."));
      if (isNaN(value)) value = 0;
      value = Math.max(0, Math.min(100, value));
      el.style.width = value + "%";
    });
  }

  /* ---------------------------------------------------------------- confirm dialog */
  var dialog = null;
  function confirmDialog(message) {
    dialog = dialog || document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm(message));
    }
    return new Promise(function (resolve) {
      var text = dialog.querySelector("[data-confirm-message]");
      if (text) text.textContent = message;
      var ok = dialog.querySelector("[data-confirm-ok]");
      var opener = document.activeElement;
      function done(result) {
        dialog.removeEventListener("close", onClose);
        if (dialog.open) dialog.close();
        if (opener && opener.focus) opener.focus();
        resolve(result);
      }
      function onClose() { done(dialog.returnValue === "ok"); }
      dialog.returnValue = "";
      dialog.addEventListener("close", onClose);
      dialog.showModal();
      if (ok) ok.focus();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (!message || form.dataset.confirmed === "1") {
      delete form.dataset.confirmed;
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    confirmDialog(message).then(function (yes) {
      if (!yes) return;
      form.dataset.confirmed = "1";
      if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      else form.submit();
    });
  }, true);

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-confirm]");
    if (!link) return;
    if (link.dataset.confirmed === "1") { delete link.dataset.confirmed; return; }
    event.preventDefault();
    confirmDialog(link.getAttribute("data-confirm")).then(function (yes) {
      if (!yes) return;
      link.dataset.confirmed = "1";
      link.click();
    });
  }, true);

  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail && event.detail.question;
    if (!question) return;
    event.preventDefault();
    confirmDialog(question).then(function (yes) { if (yes) event.detail.issueRequest(true); });
  });

  /* ---------------------------------------------------------------- dropdowns (details.dropdown) */
  function closeDropdowns(except) {
    qsa(document, "details.dropdown[open]").forEach(function (d) {
      if (d !== except && !d.contains(except)) d.removeAttribute("open");
    });
  }
  document.addEventListener("toggle", function (event) {
    var d = event.target;
    if (d.matches && d.matches("details.dropdown") && d.open) closeDropdowns(d);
  }, true);
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("details.dropdown")) closeDropdowns(null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.dropdown[open]");
    if (open) {
      open.removeAttribute("open");
      var summary = open.querySelector("summary");
      if (summary) summary.focus();
    }
    if (document.body.classList.contains("nav-open")) document.body.classList.remove("nav-open");
  });

  /* ---------------------------------------------------------------- toasts / alerts */
  function dismiss(el) {
    if (!el || el.classList.contains("is-leaving")) return;
    el.classList.add("is-leaving");
    window.setTimeout(function () { if (el.parentNode) el.parentNode.removeChild(el); }, REDUCED_MOTION ? 0 : 260);
  }
  function initToasts(root) {
    qsa(root, "[data-autodismiss]").forEach(function (el) {
      if (el.dataset.ondoToast) return;
      el.dataset.ondoToast = "1";
      var ms = parseInt(el.getAttribute("data-autodismiss"), 10) || 6000;
      var timer = window.setTimeout(function () { dismiss(el); }, ms);
      el.addEventListener("mouseenter", function () { window.clearTimeout(timer); });
      el.addEventListener("focusin", function () { window.clearTimeout(timer); });
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-dismiss]");
    if (button) dismiss(button.closest(".toast, .alert, [data-dismissible]"));
  });

  /* ---------------------------------------------------------------- copy to clipboard */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    event.preventDefault();
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var text = "value" in target && target.value !== undefined ? target.value : target.textContent;
    var label = button.querySelector("[data-copy-label]") || button;
    var original = label.textContent;
    function copied() {
      label.textContent = button.getAttribute("data-copied-label") || t("Copied", "Copied");
      button.classList.add("is-copied");
      window.setTimeout(function () { label.textContent = original; button.classList.remove("is-copied"); }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text.trim()).then(copied, function () { fallbackCopy(target); copied(); });
    } else {
      fallbackCopy(target);
      copied();
    }
  });
  function fallbackCopy(target) {
    if (target.select) { target.focus(); target.select(); }
    try { document.execCommand("copy"); } catch (e) { /* user can copy the selected text */ }
  }

  /* ---------------------------------------------------------------- autosubmit, nav toggle */
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el.hasAttribute || !el.hasAttribute("data-autosubmit") || !el.form) return;
    if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
  });
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var open = document.body.classList.toggle("nav-open");
    qsa(document, "[data-nav-toggle][aria-expanded]").forEach(function (b) { b.setAttribute("aria-expanded", open ? "true" : "false"); });
  });

  /* ---------------------------------------------------------------- relative times */
  function initRelativeTimes(root) {
    if (!window.Intl || !Intl.RelativeTimeFormat) return;
    var rtf = new Intl.RelativeTimeFormat(IS_JA ? "ja" : "en", { numeric: "auto" });
    var now = Date.now();
    qsa(root, "time[data-relative]").forEach(function (el) {
      var when = Date.parse(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var seconds = Math.round((when - now) / 1000);
      var abs = Math.abs(seconds);
      if (abs > 7 * 86400) return;
      if (!el.title) el.title = el.textContent.trim();
      var text;
      if (abs < 45) text = rtf.format(0, "second");
      else if (abs < 3600) text = rtf.format(Math.round(seconds / 60), "minute");
      else if (abs < 86400) text = rtf.format(Math.round(seconds / 3600), "hour");
      else text = rtf.format(Math.round(seconds / 86400), "day");
      el.textContent = text;
    });
  }

  /* ---------------------------------------------------------------- global htmx progress bar */
  var inflight = 0;
  var progressTimer = null;
  function progressBar() { return document.getElementById("htmx-progress"); }
  function setProgress(active) {
    var bar = progressBar();
    if (!bar) return;
    window.clearTimeout(progressTimer);
    if (active) {
      progressTimer = window.setTimeout(function () { bar.classList.add("is-active"); }, 120);
      document.documentElement.setAttribute("aria-busy", "true");
    } else {
      bar.classList.remove("is-active");
      document.documentElement.removeAttribute("aria-busy");
    }
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.closest && elt.closest("[data-no-progress]")) return;
    var xhr = event.detail && event.detail.xhr;
    if (xhr) xhr.__ondoCounted = true;
    inflight += 1;
    setProgress(true);
  });
  function requestEnded(event) {
    var xhr = event.detail && event.detail.xhr;
    if (!xhr || !xhr.__ondoCounted) return;
    xhr.__ondoCounted = false;
    inflight = Math.max(0, inflight - 1);
    if (inflight === 0) setProgress(false);
  }
  document.addEventListener("htmx:afterRequest", requestEnded);
  document.addEventListener("htmx:sendError", requestEnded);
  document.addEventListener("htmx:sendAbort", requestEnded);
  document.addEventListener("htmx:timeout", requestEnded);

  /* Form errors come back as 400/422 fragments and are swapped (see htmx-config in base.html). In DEBUG,
     django-htmx's helper would replace the whole page with any 400 body; keep it from seeing those. */
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 400 || status === 422) event.stopPropagation();
  }, true);

  /* Session expired: an htmx request was redirected to the login page. Reload the whole page there
     instead of swapping the login form into a widget (e.g. the notification bell). */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var loginUrl = document.body && document.body.getAttribute("data-login-url");
    if (!xhr || !loginUrl || !xhr.responseURL) return;
    var path;
    try { path = new URL(xhr.responseURL).pathname; } catch (e) { return; }
    if (path === loginUrl && window.location.pathname !== loginUrl) {
      event.detail.shouldSwap = false;
      window.location.assign(loginUrl + "?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    }
  });

  /* Don't refresh a polling widget while the user has its dropdown open (bell). */
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.querySelector && elt.hasAttribute("hx-trigger") && elt.querySelector("details.dropdown[open]")) {
      event.preventDefault();
    }
  });

  /* Friendly message when an htmx request fails (network or 5xx). */
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
    if (status >= 500) showToast(t("ServerError", "The server could not complete the request. Please try again."), "error");
  });
  document.addEventListener("htmx:sendError", function () {
    showToast(t("NetworkError", "Could not reach the server. Check your connection and try again."), "error");
  });
  function showToast(text, level) {
    var box = document.getElementById("messages");
    if (!box) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    var body = document.createElement("div");
    body.className = "toast-body";
    body.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", t("Close", "Close"));
    close.textContent = "×";
    toast.appendChild(body);
    toast.appendChild(close);
    box.appendChild(toast);
    if (level !== "error") toast.setAttribute("data-autodismiss", "6000");
    initToasts(box);
  }

  /* ---------------------------------------------------------------- charts (Chart.js 4) */
  var PALETTE = ["#2458c6", "#1b998b", "#e39a16", "#d2402c", "#7a5cc2", "#7790a6", "#c2578f", "#4f8a2b"];
  var TARGET_COLOR = "#5d6876";
  var GRID_COLOR = "#e9ecf0";
  var TEXT_COLOR = "#5d6876";

  function hexToRgba(hex, alpha) {
    var h = hex.replace("#", "");
    var n = parseInt(h.length === 3 ? h.replace(/(.)/g, "$1$1") : h, 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function readChartData(el) {
    var id = el.getAttribute("data-chart-source");
    var node = id ? document.getElementById(id) : el.querySelector('script[type="application/json"]');
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function chartDefaults(Chart) {
    if (Chart.__ondo) return;
    Chart.__ondo = true;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 12;
    Chart.defaults.color = TEXT_COLOR;
    Chart.defaults.borderColor = GRID_COLOR;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.responsive = true;
    Chart.defaults.animation = REDUCED_MOTION ? false : { duration: 350 };
    Chart.defaults.plugins.legend.position = "top";
    Chart.defaults.plugins.legend.align = "end";
    Chart.defaults.plugins.legend.labels.boxWidth = 14;
    Chart.defaults.plugins.legend.labels.boxHeight = 3;
    Chart.defaults.plugins.legend.labels.padding = 14;
    Chart.defaults.plugins.legend.labels.sort = function (a, b) { return a.datasetIndex - b.datasetIndex; };
    Chart.defaults.plugins.tooltip.backgroundColor = "rgba(31,41,51,.94)";
    Chart.defaults.plugins.tooltip.padding = 10;
    Chart.defaults.plugins.tooltip.cornerRadius = 6;
    Chart.defaults.plugins.tooltip.boxPadding = 4;
    Chart.defaults.plugins.tooltip.titleFont = { weight: "700" };
  }

  function seriesColor(series, index) {
    if (series.color) return series.color;
    return PALETTE[index % PALETTE.length];
  }

  function isTarget(series) { return series.kind === "target" || series.target === true; }

  function valueAxis(unit, opts) {
    return Object.assign({
      beginAtZero: true,
      grid: { color: GRID_COLOR, drawTicks: false },
      border: { display: false },
      ticks: { padding: 8, maxTicksLimit: 6, callback: function (v) { return formatValue(v, unit, true); } }
    }, opts || {});
  }
  function categoryAxis(opts) {
    return Object.assign({ grid: { display: false }, border: { color: "#cdd3db" }, ticks: { padding: 6, autoSkipPadding: 12 } }, opts || {});
  }
  function tooltipLabel(unit) {
    return function (ctx) {
      var v = ctx.parsed && typeof ctx.parsed === "object" ? (ctx.chart.options.indexAxis === "y" ? ctx.parsed.x : ctx.parsed.y) : ctx.parsed;
      return " " + (ctx.dataset.label ? ctx.dataset.label + ": " : "") + formatValue(v, unit, false);
    };
  }

  function lineConfig(data) {
    var unit = data.unit || "number";
    var actualIndex = 0;
    var datasets = (data.series || []).map(function (s, i) {
      if (isTarget(s)) {
        return {
          label: s.label, data: s.data, borderColor: s.color || TARGET_COLOR, backgroundColor: "transparent",
          borderDash: [6, 4], borderWidth: 2, pointRadius: 0, pointHoverRadius: 3, tension: 0, fill: false, order: 0
        };
      }
      var color = seriesColor(s, actualIndex++);
      return {
        label: s.label, data: s.data, borderColor: color, backgroundColor: hexToRgba(color, .08),
        borderWidth: 2.25, pointRadius: data.labels && data.labels.length > 24 ? 0 : 2.5, pointHoverRadius: 4,
        pointBackgroundColor: color, tension: .25, fill: actualIndex === 1 && data.fill !== false, order: 1
      };
    });
    return {
      type: "line",
      data: { labels: data.labels || [], datasets: datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { x: categoryAxis(), y: valueAxis(unit, data.max ? { max: data.max } : null) },
        plugins: { tooltip: { callbacks: { label: tooltipLabel(unit) } }, legend: { display: datasets.length > 1 } }
      }
    };
  }

  function barConfig(data) {
    var unit = data.unit || "number";
    var horizontal = !!data.horizontal;
    var barIndex = 0;
    var datasets = (data.series || []).map(function (s) {
      if (isTarget(s)) {
        return {
          type: "line", label: s.label, data: s.data, borderColor: s.color || TARGET_COLOR, backgroundColor: "transparent",
          borderDash: [6, 4], borderWidth: 2, pointRadius: 0, pointHoverRadius: 3, fill: false, order: 0
        };
      }
      var color = seriesColor(s, barIndex++);
      return {
        label: s.label, data: s.data, backgroundColor: s.colors || color, hoverBackgroundColor: s.colors || color,
        borderRadius: 3, borderSkipped: false, maxBarThickness: 36, categoryPercentage: .7, barPercentage: .85, order: 1
      };
    });
    var scales = {};
    scales[horizontal ? "y" : "x"] = categoryAxis({ stacked: !!data.stacked });
    scales[horizontal ? "x" : "y"] = valueAxis(unit, { stacked: !!data.stacked });
    return {
      type: "bar",
      data: { labels: data.labels || [], datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: { tooltip: { callbacks: { label: tooltipLabel(unit) } }, legend: { display: datasets.length > 1 } }
      }
    };
  }

  /* Funnel: horizontal bars, value + conversion rate from the previous stage drawn at the bar end. */
  var funnelLabels = {
    id: "ondoFunnelLabels",
    afterDatasetsDraw: function (chart) {
      var opts = chart.options.plugins.ondoFunnelLabels;
      if (!opts || !opts.enabled) return;
      var ctx = chart.ctx;
      var meta = chart.getDatasetMeta(0);
      var values = chart.data.datasets[0].data;
      ctx.save();
      ctx.textBaseline = "middle";
      meta.data.forEach(function (bar, i) {
        var value = values[i];
        var text = formatValue(value, opts.unit, false);
        ctx.font = "700 12px " + Chart.defaults.font.family;
        ctx.fillStyle = "#1f2933";
        var x = bar.x + 8;
        ctx.fillText(text, x, bar.y);
        if (i > 0 && values[i - 1]) {
          var rate = (value / values[i - 1]) * 100;
          var w = ctx.measureText(text).width;
          ctx.font = "600 11px " + Chart.defaults.font.family;
          ctx.fillStyle = TEXT_COLOR;
          ctx.fillText((IS_JA ? "（" : "(") + opts.rateLabel + " " + formatValue(rate, "percent") + (IS_JA ? "）" : ")"), x + w + 6, bar.y);
        }
      });
      ctx.restore();
    }
  };

  function funnelConfig(data) {
    var unit = data.unit || "count";
    var stages = data.stages || [];
    var values = stages.map(function (s) { return s.value; });
    var max = Math.max.apply(null, values.concat([1]));
    var colors = stages.map(function (s, i) {
      return s.color || hexToRgba(PALETTE[0], Math.max(.35, 1 - i * (0.6 / Math.max(1, stages.length - 1))));
    });
    return {
      type: "bar",
      data: {
        labels: stages.map(function (s) { return s.label; }),
        datasets: [{ label: data.label || "", data: values, backgroundColor: colors, hoverBackgroundColor: colors, borderRadius: 3, borderSkipped: false, barPercentage: .78, categoryPercentage: .9 }]
      },
      options: {
        indexAxis: "y",
        layout: { padding: { right: 8 } },
        scales: {
          x: { display: false, beginAtZero: true, max: max * 1.45 },
          y: { grid: { display: false }, border: { display: false }, ticks: { color: "#3a4552", font: { weight: "600", size: 12 } } }
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var i = ctx.dataIndex;
                var line = " " + formatValue(values[i], unit, false);
                if (i > 0 && values[i - 1]) line += "  ·  " + (data.rate_label || t("Conversion", "Conversion")) + " " + formatValue(values[i] / values[i - 1] * 100, "percent");
                if (i > 0 && values[0]) line += "  ·  " + (data.overall_label || t("FromTop", "From first stage")) + " " + formatValue(values[i] / values[0] * 100, "percent");
                return line;
              }
            }
          },
          ondoFunnelLabels: { enabled: true, unit: unit, rateLabel: data.rate_label || t("Conversion", "Conversion") }
        }
      },
      plugins: [funnelLabels]
    };
  }

  function doughnutConfig(data) {
    var unit = data.unit || "count";
    var s = (data.series || [])[0] || { data: [] };
    return {
      type: "doughnut",
      data: { labels: data.labels || [], datasets: [{ data: s.data, backgroundColor: s.colors || PALETTE.slice(0, s.data.length), borderWidth: 2, borderColor: "#fff" }] },
      options: {
        cutout: "66%",
        plugins: { legend: { position: "right", align: "center" }, tooltip: { callbacks: { label: function (ctx) { return " " + ctx.label + ": " + formatValue(ctx.parsed, unit, false); } } } }
      }
    };
  }

  var BUILDERS = { line: lineConfig, bar: barConfig, funnel: funnelConfig, doughnut: doughnutConfig };

  function renderChart(el) {
    var Chart = window.Chart;
    if (!Chart) return false;
    chartDefaults(Chart);
    var kind = el.getAttribute("data-chart");
    var build = BUILDERS[kind];
    var data = readChartData(el);
    if (!build || !data) return true;
    var canvas = el.tagName === "CANVAS" ? el : el.querySelector("canvas");
    if (!canvas) {
      canvas = document.createElement("canvas");
      el.appendChild(canvas);
    }
    if (!canvas.hasAttribute("role")) canvas.setAttribute("role", "img");
    if (!canvas.hasAttribute("aria-label") && el.getAttribute("aria-label")) canvas.setAttribute("aria-label", el.getAttribute("aria-label"));
    var existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    var empty = kind === "funnel" ? !(data.stages && data.stages.length) : !(data.series && data.series.length && data.labels && data.labels.length);
    if (empty) {
      var msg = document.createElement("div");
      msg.className = "chart-empty";
      msg.textContent = el.getAttribute("data-chart-empty") || t("NoData", "No data yet");
      canvas.replaceWith(msg);
      return true;
    }
    new Chart(canvas, build(data));
    el.dataset.chartReady = "1";
    return true;
  }

  function initCharts(root) {
    var pending = qsa(root, "[data-chart]").filter(function (el) { return el.dataset.chartReady !== "1"; });
    if (!pending.length) return;
    if (!window.Chart) {
      // chart.umd.min.js is deferred like this file; if it is still loading, try again shortly.
      var tries = 0;
      var timer = window.setInterval(function () {
        tries += 1;
        if (window.Chart || tries > 40) {
          window.clearInterval(timer);
          pending.forEach(renderChart);
        }
      }, 50);
      return;
    }
    pending.forEach(renderChart);
  }

  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var el = event.target;
    if (window.Chart && el && el.tagName === "CANVAS") {
      var chart = window.Chart.getChart(el);
      if (chart) chart.destroy();
    }
  });

  /* ---------------------------------------------------------------- init */
  function init(root) {
    root = root || document;
    applyWidths(root);
    initToasts(root);
    initRelativeTimes(root);
    initCharts(root);
  }

  window.Ondo = {
    init: init,
    formatValue: formatValue,
    manOku: manOku,
    confirm: confirmDialog,
    toast: showToast,
    palette: PALETTE.slice(),
    renderChart: renderChart
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
  /* afterSwap: widths before first paint; afterSettle: after htmx has settled attributes. */
  document.addEventListener("htmx:afterSwap", function (event) { applyWidths(event.detail.elt || event.target); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.detail.elt || event.target); });
  document.addEventListener("htmx:oobAfterSwap", function (event) { init(event.detail.elt || event.target); });
})();
