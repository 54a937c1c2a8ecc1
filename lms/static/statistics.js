// The statistics page's stacked bars: one bar per child organisation, one colour per standing.
// The same numbers are in the table below the chart; a click on a bar opens that organisation.
(function () {
  "use strict";
  var element = document.getElementById("standing-chart");
  var source = document.getElementById("standing-chart-data");
  if (!element || !source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var colours = {met: "#2e7d32", close: "#f9a825", short: "#ef6c00", none: "#9e9e9e", voided: "#c62828"};
  var chart = window.echarts.init(element, null, {renderer: "svg"});
  chart.setOption({
    animation: false,
    tooltip: {trigger: "axis", axisPointer: {type: "shadow"}},
    legend: {top: 0},
    grid: {left: 8, right: 24, top: 32, bottom: 8, containLabel: true},
    xAxis: {type: "value", name: "人数", minInterval: 1},
    yAxis: {type: "category", data: data.categories, inverse: true},
    series: data.series.map(function (s) {
      return {name: s.name, type: "bar", stack: "people", data: s.data, itemStyle: {color: colours[s.key]},
              emphasis: {focus: "series"}};
    })
  });
  chart.on("click", function (params) {
    var link = data.links[params.dataIndex];
    if (link) { window.location.href = link; }
  });
  window.addEventListener("resize", function () { chart.resize(); });
  element.setAttribute("data-rendered", "true");
}());
