// Charts: every [data-chart] element holds an ECharts option the server built (JSON, no script in the page).
// ECharts itself (large) is fetched only when a page has a chart. Charts mount after load and after each htmx
// swap, follow their box's size, are disposed when htmx removes them, open the list a data point carries (`url`)
// on click, and a "Download chart image" button saves one as PNG.
(function () {
  "use strict";

  var library = document.currentScript && document.currentScript.dataset.echarts;
  var loading = null;
  var language = document.documentElement.lang || "en";

  function loadECharts() {
    if (window.echarts) { return Promise.resolve(window.echarts); }
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = library;
        tag.onload = function () { resolve(window.echarts); };
        tag.onerror = reject;
        document.head.appendChild(tag);
      });
    }
    return loading;
  }

  // How values read: `_format` on the option, an axis or a series (count, money, percent, days).
  function formatter(kind, currency) {
    var options = { count: {}, days: { maximumFractionDigits: 1 },
                    percent: { style: "percent", maximumFractionDigits: 1 },
                    money: { style: "currency", currency: currency || "CNY" } }[kind] || {};
    var format = new Intl.NumberFormat(language, options);
    return function (value) {
      var number = value && typeof value === "object" ? value.value : value;
      return number === null || number === undefined || number === "-" ? "–" : format.format(number);
    };
  }

  function applyFormats(option) {
    var base = formatter(option._format, option._currency);
    (Array.isArray(option.yAxis) ? option.yAxis : []).concat(Array.isArray(option.xAxis) ? option.xAxis : [option.xAxis])
      .forEach(function (axis) {
        if (axis && axis.type === "value") {
          axis.axisLabel = Object.assign({}, axis.axisLabel, { formatter: formatter(axis._format, option._currency) });
        }
      });
    if (option.tooltip) { option.tooltip.valueFormatter = base; }
    (option.series || []).forEach(function (series) {
      if (series._format) { series.tooltip = { valueFormatter: formatter(series._format, option._currency) }; }
    });
    return option;
  }

  function mount(element) {
    if (element.chart || !element.isConnected) { return; }
    var chart = window.echarts.init(element, null, { locale: language.indexOf("zh") === 0 ? "ZH" : "EN",
                                                      renderer: "svg" });
    chart.setOption(applyFormats(JSON.parse(element.dataset.chart)));
    chart.on("click", function (params) {
      if (params.data && params.data.url) { window.location.assign(params.data.url); }
    });
    element.chart = chart;
    if (window.ResizeObserver) {
      element.resizing = new ResizeObserver(function () { chart.resize(); });
      element.resizing.observe(element);
    }
  }

  function mountAll(root) {
    var found = (root || document).querySelectorAll("[data-chart]");
    if (!found.length) { return; }
    loadECharts().then(function () { found.forEach(mount); });
  }

  function dispose(element) {
    if (!element.chart) { return; }
    if (element.resizing) { element.resizing.disconnect(); }
    element.chart.dispose();
    element.chart = null;
  }

  function download(button) {
    var element = button.closest("section").querySelector("[data-chart]");
    if (!element || !element.chart) { return; }
    var image = new Image();
    image.onload = function () {
      var canvas = document.createElement("canvas");
      var scale = 2;
      canvas.width = element.clientWidth * scale;
      canvas.height = element.clientHeight * scale;
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      var link = document.createElement("a");
      link.href = canvas.toDataURL("image/png");
      link.download = button.dataset.chartDownload;
      link.click();
    };
    image.src = element.chart.getDataURL({ type: "svg", backgroundColor: "#fff" });
  }

  document.addEventListener("DOMContentLoaded", function () { mountAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { mountAll(event.target); });
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var element = event.target;
    if (element.matches && element.matches("[data-chart]")) { dispose(element); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-chart-download]");
    if (button) { download(button); }
  });
})();
