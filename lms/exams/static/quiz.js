/* The quiz page: send the browser's device id (the player's, kept in localStorage) with the start of an attempt.
   It is one piece of evidence among others, never trusted alone (docs/exams.md "Integrity"). */
(function () {
  "use strict";
  var field = document.querySelector("input[data-device-id]");
  if (!field) { return; }
  try {
    var id = window.localStorage.getItem("lms-device");
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      window.localStorage.setItem("lms-device", id);
    }
    field.value = id;
  } catch (e) { /* storage disabled: the device id is optional */ }
})();
