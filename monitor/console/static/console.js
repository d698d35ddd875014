// Keyboard shortcuts for a fast queue; every action is also a plain link or form button.
(() => {
  const page = document.body.dataset.page;
  const typing = (el) => ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || el.isContentEditable;
  const go = (selector) => { const a = document.querySelector(selector); if (a) window.location.href = a.href; };

  document.querySelectorAll("select[data-autosubmit]").forEach((s) =>
    s.addEventListener("change", () => s.form.submit()));

  const rows = Array.from(document.querySelectorAll("tr.row"));
  let at = 0;
  const select = (i) => {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle("selected", j === at));
    rows[at].scrollIntoView({ block: "nearest" });
  };
  rows.forEach((r, j) => r.addEventListener("click", (e) => {
    if (e.target.tagName !== "A") { select(j); window.location.href = r.dataset.href; }
  }));
  if (page === "queue") select(0);

  let sent = false;
  const verdict = (n) => {
    const button = document.querySelector(`#verdict button[data-key="${n}"]`);
    if (!button || sent) return;
    sent = true;  // one verdict per page, even with a key held down
    button.form.requestSubmit(button);
  };

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) { if (e.key === "Escape") e.target.blur(); return; }
    if (page === "queue") {
      if (e.key === "j") select(at + 1);
      else if (e.key === "k") select(at - 1);
      else if ((e.key === "Enter" || e.key === "o") && rows.length) window.location.href = rows[at].dataset.href;
      else return;
    } else if (page === "item") {
      if (["1", "2", "3"].includes(e.key)) verdict(e.key);
      else if (e.key === "u") { const u = document.getElementById("urgent"); u.checked = !u.checked; }
      else if (e.key === "n") document.getElementById("note").focus();
      else if (e.key === "j") go('a[data-key="next"]');
      else if (e.key === "k") go('a[data-key="prev"]');
      else if (e.key === "q" || e.key === "Escape") go('a[data-key="queue"]');
      else return;
    } else return;
    e.preventDefault();
  });
  document.querySelectorAll("#verdict").forEach((f) => f.addEventListener("submit", () => { sent = true; }));
})();
