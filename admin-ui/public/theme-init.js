// Applies the saved theme before first paint (no flash). A file, not inline, so a strict CSP works.
try {
  var t = localStorage.getItem("nexmdm.theme");
  if (t === "dark" || (!t && window.matchMedia("(prefers-color-scheme: dark)").matches)) {
    document.documentElement.classList.add("dark");
  }
} catch (e) {}
