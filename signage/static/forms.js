// Small form behaviours without inline script (the Content-Security-Policy runs none):
//   <form data-confirm="Delete it?">           asks before it is sent
//   <select data-submit-on-change>             sends its form (through htmx, if the form has hx-*)
//   <select data-submit-on-change="reload">    sends its form as a plain page load
(function () {
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !confirm(form.dataset.confirm)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("change", (e) => {
    const field = e.target.closest && e.target.closest("[data-submit-on-change]");
    if (!field || !field.form) return;
    if (field.dataset.submitOnChange === "reload") field.form.submit();
    else field.form.requestSubmit();
  });
})();
