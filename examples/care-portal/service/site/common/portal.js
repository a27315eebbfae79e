// CarePoint: small progressive enhancements shared by both layouts. Every form
// still works without this script.
(function () {
  'use strict';

  // Consent banners (CookieWall in v1, ConsentHub in v2): answer in the
  // background and remove the banner, instead of reloading the page.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.matches('[data-consent]')) return;
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form, event.submitter));
    fetch(form.action, {
      method: 'POST',
      headers: { 'Accept': 'application/json' },
      body: body,
      credentials: 'same-origin'
    }).then(function (response) {
      if (!response.ok) throw new Error('consent: HTTP ' + response.status);
      var root = form.closest('[data-consent-root]');
      if (root) root.remove();
    }).catch(function () { form.submit(); });
  });

  // Disclosure buttons: data-toggle names the element to show or hide.
  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-toggle]');
    if (!button) return;
    var panel = document.getElementById(button.getAttribute('data-toggle'));
    if (!panel) return;
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', String(!panel.hidden));
  });

  // The CAPTCHA widget: ticking the box only starts a verification that a
  // person completes elsewhere; the page never lets itself through.
  document.addEventListener('change', function (event) {
    if (!event.target.matches('.g-recaptcha input[type="checkbox"]')) return;
    var status = event.target.closest('.g-recaptcha').querySelector('.rc-status');
    if (status) status.hidden = false;
  });
})();
