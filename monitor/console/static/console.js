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
      else if (e.key === "u") { const u = document.getElementById("urgent"); if (u) u.checked = !u.checked; }
      else if (e.key === "n") { const n = document.getElementById("note"); if (n) n.focus(); }
      else if (e.key === "j") go('a[data-key="next"]');
      else if (e.key === "k") go('a[data-key="prev"]');
      else if (e.key === "q" || e.key === "Escape") go('a[data-key="queue"]');
      else return;
    } else return;
    e.preventDefault();
  });
  document.addEventListener("keydown", (e) => {  // z: undo the verdict just saved, on any page
    if (e.key !== "z" || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    const undo = document.getElementById("undo");
    if (undo && !sent) { sent = true; undo.requestSubmit(); e.preventDefault(); }
  });
  document.querySelectorAll("#verdict").forEach((f) => f.addEventListener("submit", () => { sent = true; }));

  // The undo button goes when the server would refuse it anyway.
  const undo = document.getElementById("undo");
  if (undo) setTimeout(() => undo.remove(), Number(undo.dataset.undoS) * 1000);

  // An open alert page keeps its claim (a lease) while the reviewer is using it: renewed
  // every third of the lease while the tab is visible and was used in the last 5 minutes,
  // so a forgotten tab gives the alert back and does not keep the session alive either.
  const form = document.querySelector("#verdict[data-claim-url]");
  if (form) {
    const leaseMs = Number(form.dataset.leaseMs), activeMs = 5 * 60 * 1000;
    let used = Date.now();
    ["keydown", "pointerdown", "pointermove", "scroll", "focus"].forEach((kind) =>
      window.addEventListener(kind, () => { used = Date.now(); }, { passive: true }));
    const lost = (holder) => {
      const note = document.getElementById("claim-lost");
      if (note) { note.querySelector(".holder").textContent = holder || "a teammate"; note.hidden = false; }
      form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      sent = true;  // no verdict keys on an alert that is not ours
      clearInterval(timer);
    };
    const renew = async () => {
      if (sent || document.visibilityState !== "visible" || Date.now() - used > activeMs) return;
      const body = new URLSearchParams({ csrf: form.querySelector("input[name=csrf]").value });
      try {
        const answer = await fetch(form.dataset.claimUrl, { method: "POST", body, credentials: "same-origin" });
        if (answer.status === 409) { const claim = await answer.json(); if (claim.status === "held") lost(claim.holder); }
      } catch (_) { /* offline for a moment: the next renewal tries again */ }
    };
    const timer = setInterval(renew, Math.max(1000, leaseMs / 3));
    document.addEventListener("visibilitychange", renew);
  }
})();
