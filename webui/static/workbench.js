// Caseline workbench: the little the pages need beyond htmx. No build step.
(function () {
  "use strict";
  // A live refresh must not wipe what someone is typing: regions holding forms refresh only when idle.
  window.caselineEditing = function (regionId) {
    var region = document.getElementById(regionId);
    if (!region) return false;
    if (region.contains(document.activeElement) && document.activeElement !== region) return true;
    var fields = region.querySelectorAll("textarea, input[type=text], input[type=datetime-local]");
    for (var i = 0; i < fields.length; i++) if (fields[i].value) return true;
    return region.querySelector("details[open]") !== null;
  };
  var status = function () { return document.getElementById("live-status"); };
  var connection = "";
  var say = function (key, updated) {
    var el = status();
    if (!el || !el.dataset[key]) return;
    if (key !== "updated") connection = el.dataset[key];
    el.textContent = updated ? connection + " · " + el.dataset.updated + " " + new Date().toLocaleTimeString(document.documentElement.lang)
                             : connection;
  };
  document.addEventListener("htmx:sseOpen", function () { say("connected"); });
  document.addEventListener("htmx:sseError", function () { say("lost"); });
  // A live refresh announces itself once, politely (the status region is aria-live="polite").
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.hasAttribute("data-live-announce")) say("connected", true);
  });
  // An answer with a message (error or done) takes the focus, so a screen reader reads it at once.
  document.addEventListener("DOMContentLoaded", function () {
    var message = document.getElementById("message");
    if (message) message.focus();
  });
  // A session that ended while the page was open: the next live refresh answers 401; go to sign-in.
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail && event.detail.xhr && event.detail.xhr.status === 401) {
      window.location.assign(document.querySelector(".brand a").getAttribute("href"));
    }
  });
})();
