// The widget preview page: start the rendered widget, and again after each htmx swap.
Signage.widgets.start(document.getElementById("rendered"));
document.body.addEventListener("htmx:beforeSwap", (e) => { if (e.detail.target.id === "rendered") Signage.widgets.stop(e.detail.target); });
document.body.addEventListener("htmx:afterSwap", () => { const r = document.getElementById("rendered"); if (r) Signage.widgets.start(r); });
