// Fills the phone's clock into the diary form (device time is kept beside the server time).
document.querySelectorAll("[data-device-time]").forEach(function (el) {
  el.form.addEventListener("submit", function () { el.value = new Date().toISOString(); });
});
