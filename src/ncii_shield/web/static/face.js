// The face step's form when its case had many wrong PINs today (as static/proof.js for the status
// page): compute the proof of work in this page, then send the form with the chosen photos.
import { solve } from "/static/proof.js";

const form = document.getElementById("face-form");
const bits = Number(form?.dataset.proofBits || 0);

// As services/cases.normalise_case_number: NC-XXXX-XXXX-XXXX-XXXX, O read as 0, I and L as 1.
function normalise(text) {
  let s = text.toUpperCase().replace(/[^0-9A-Z]/g, "");
  if (s.startsWith("NC")) s = s.slice(2);
  s = s.replace(/O/g, "0").replace(/[IL]/g, "1");
  return `NC-${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}`;
}

if (form && bits > 0 && bits <= 32) {
  let working = false;
  window.addEventListener("pageshow", () => {
    working = false;
    form.querySelector("button[type=submit]").disabled = false;
    document.getElementById("proof-progress").hidden = true;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (working) return;
    working = true;
    form.querySelector("button[type=submit]").disabled = true;
    document.getElementById("proof-progress").hidden = false;
    const day = new Date().toISOString().slice(0, 10);
    const prefix = `ncii-shield-pin:${normalise(form.case_number.value)}:${form.pin.value.trim()}:${day}:`;
    setTimeout(() => {
      document.getElementById("proof").value = solve(prefix, bits);
      form.submit();
    }, 30);
  });
}
