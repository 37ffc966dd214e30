// Review pages: the platform's copy is loaded only after a click, and shown blurred until a second click;
// a derivative flag's evidence (boxes in the upload's pixels) is drawn over it, unblurred.
const button = document.getElementById("show-preview");
if (button) {
  button.addEventListener("click", () => {
    const frame = document.getElementById("preview-frame");
    if (frame.querySelector("img")) return;
    const img = document.createElement("img");
    img.alt = "The platform's copy (blurred; click to see it clearly)";
    img.className = "preview-image blurred";
    img.referrerPolicy = "no-referrer";
    img.src = button.dataset.previewUrl;
    img.addEventListener("click", () => img.classList.toggle("blurred"));
    const evidence = document.getElementById("evidence-template");
    if (evidence) {
      // a derivative flag's boxes, drawn over the (blurred) copy and scaled with it
      const wrap = document.createElement("div");
      wrap.className = "evidence-wrap";
      wrap.appendChild(img);
      wrap.appendChild(evidence.content.cloneNode(true));
      frame.appendChild(wrap);
    } else {
      frame.appendChild(img);
    }
    button.textContent = "Shown below (blurred)";
    button.disabled = true;
  });
}
