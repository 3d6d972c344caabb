// The framework switch (remembered across pages in localStorage) and the pair tabs.
(function () {
  var KEY = "tfpt-show";
  var root = document.documentElement;
  function stored() {
    try { return localStorage.getItem(KEY) || "both"; } catch (e) { return "both"; }
  }
  function show(value, remember) {
    if (["both", "tf", "torch"].indexOf(value) < 0) value = "both";
    root.setAttribute("data-tfpt-show", value);
    document.querySelectorAll(".tfpt-switch button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.show === value));
    });
    if (remember) { try { localStorage.setItem(KEY, value); } catch (e) { /* private mode */ } }
  }
  function tab(pair, side) {
    pair.dataset.tab = side;
    pair.querySelectorAll(".tfpt-tab").forEach(function (b) {
      b.setAttribute("aria-selected", String(b.dataset.tab === side));
    });
  }
  show(stored(), false);
  document.querySelectorAll(".tfpt-pair").forEach(function (p) { tab(p, p.dataset.tab || "tf"); });
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".tfpt-switch button, .tfpt-tab");
    if (!button) return;
    if (button.dataset.show) { show(button.dataset.show, true); return; }
    var side = button.dataset.tab;
    // one click switches every pair on the page, as a learner reads one framework at a time
    document.querySelectorAll(".tfpt-pair").forEach(function (p) { tab(p, side); });
  });
  window.addEventListener("storage", function (e) { if (e.key === KEY) show(e.newValue, false); });
})();
