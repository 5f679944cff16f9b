// The scope form works without JavaScript (a GET form with a button); with it, a change applies at once.
(function () {
  "use strict";
  var form = document.getElementById("scope-form");
  if (!form) { return; }
  form.addEventListener("change", function () { form.submit(); });
})();
