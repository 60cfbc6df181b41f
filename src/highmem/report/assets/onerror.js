window.__hmErrors = [];
window.addEventListener("error", function (e) {
  window.__hmErrors.push(String(e.message));
  var d = document.getElementById("js-error");
  if (!d) {
    d = document.createElement("div");
    d.id = "js-error";
    document.body.insertBefore(d, document.body.firstChild);
  }
  d.textContent = "JavaScript error in this report: " + e.message;
});
