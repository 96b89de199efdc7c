// The statistics page's charts (Apache ECharts), drawn from the API's JSON the page embeds
// (<script type="application/json" id="data-…" data-api="/api/v1/stats/rooms?…">).
// Each chart's table is beside it in the page. A drawn chart gets data-drawn="1".
(function () {
  "use strict";
  const root = document.getElementById("stats");
  if (!root || !window.echarts) return;
  const text = root.dataset;
  const weekdays = JSON.parse(text.weekdays);
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const hours = (rows, name) => rows.map((r) => r[name]);

  const options = {
    heat(data) {
      const cells = data.rows.map((r) => [r.hour, r.weekday - 1, r.utilization === null ? 0 : Math.round(r.utilization * 1000) / 10]);
      const top = Math.max(100, ...cells.map((c) => c[2]));
      return {
        tooltip: { position: "top", formatter: (p) => `${weekdays[p.value[1]]} ${String(p.value[0]).padStart(2, "0")}:00 · ${p.value[2]}%` },
        grid: { top: 10, left: 50, right: 20, bottom: 70 },
        xAxis: { type: "category", data: [...Array(24).keys()].map((h) => String(h).padStart(2, "0")), splitArea: { show: true } },
        yAxis: { type: "category", data: weekdays, inverse: true, splitArea: { show: true } },
        visualMap: { min: 0, max: top, calculable: true, orient: "horizontal", left: "center", bottom: 0, text: [text.utilization + " %", ""] },
        series: [{ name: text.utilization, type: "heatmap", data: cells, label: { show: false } }],
      };
    },
    bars(data) {
      return {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { top: 30, left: 60, right: 20, bottom: 80 },
        xAxis: { type: "category", data: data.rows.map((r) => r.label), axisLabel: { rotate: data.rows.length > 8 ? 40 : 0 } },
        yAxis: { type: "value" },
        dataZoom: data.rows.length > 30 ? [{ type: "slider", bottom: 0 }] : [],
        series: [
          { name: text.booked, type: "bar", data: hours(data.rows, "booked_hours") },
          { name: text.used, type: "bar", data: hours(data.rows, "used_hours") },
        ],
      };
    },
    line(data) {
      return {
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { top: 30, left: 60, right: 20, bottom: 40 },
        xAxis: { type: "category", data: data.rows.map((r) => r.key) },
        yAxis: { type: "value" },
        series: [
          { name: text.booked, type: "line", data: hours(data.rows, "booked_hours") },
          { name: text.used, type: "line", data: hours(data.rows, "used_hours") },
          { name: text.noShow, type: "line", data: hours(data.rows, "no_show_hours") },
        ],
      };
    },
  };

  const charts = [];
  for (const el of root.querySelectorAll(".stats-chart")) {
    const chart = echarts.init(el, null, { renderer: "svg" });
    chart.on("finished", () => { el.dataset.drawn = "1"; });
    chart.setOption(options[el.dataset.kind](read(el.dataset.source)));
    charts.push(chart);
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
})();
