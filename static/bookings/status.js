// The booking's page, better with a script (it works without one):
// - while the booking is pending, ask the API for its status every 2 seconds and reload the
//   page when it changes (the "check again" link does the same by hand);
// - once confirmed, offer a button that prints the page (the print layout is in the CSS).
// A static file: the Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var SLOW_POLL_MS = 10000;
  var SLOW_AFTER_MS = 5 * 60 * 1000; // a booking still pending after 5 minutes: ask less often

  function follow(booking) {
    var url = booking.getAttribute("data-poll-url");
    var shown = booking.getAttribute("data-status");
    if (!url || !window.fetch) {
      return;
    }
    var started = Date.now();
    function ask() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (data && data.status && data.status !== shown) {
            window.location.reload();
            return;
          }
          later();
        })
        .catch(later);
    }
    function later() {
      window.setTimeout(ask, Date.now() - started > SLOW_AFTER_MS ? SLOW_POLL_MS : POLL_MS);
    }
    later();
  }

  function offerPrint(button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var booking = document.getElementById("booking");
    if (booking && booking.getAttribute("data-status") === "pending") {
      follow(booking);
    }
    var print = document.getElementById("print-booking");
    if (print) {
      offerPrint(print);
    }
  });
})();
