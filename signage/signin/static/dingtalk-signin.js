// DingTalk in-app sign-in (免登): ask the DingTalk JS API for an auth code for this
// company (data-corp-id), then post it; the server exchanges it for the person.
(() => {
  "use strict";
  const form = document.getElementById("dingtalk-signin");
  if (!form) return;
  const status = form.querySelector("[role=status]");
  const failed = () => { status.textContent = status.dataset.textFailed; };
  const dd = window.dd;
  if (!dd || !dd.runtime || !dd.runtime.permission) { failed(); return; }
  const ask = () => dd.runtime.permission.requestAuthCode({
    corpId: form.dataset.corpId,
    onSuccess: (result) => {
      if (!result || !result.code) { failed(); return; }
      form.elements.code.value = result.code;
      form.submit();
    },
    onFail: failed,
  });
  if (typeof dd.ready === "function") dd.ready(ask); else ask();
  if (typeof dd.error === "function") dd.error(failed);
})();
