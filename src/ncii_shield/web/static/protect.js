// The protect page: thumbnails and hashing happen on this device; only the hashes go in the form.
import { hashFile } from "/static/hashing.js";

const input = document.getElementById("files");
const list = document.getElementById("previews");
const hashesField = document.getElementById("hashes");
const submit = document.getElementById("submit");
const status = document.getElementById("status");
const results = [];
let busy = 0;

function update() {
  const ok = results.filter((r) => r && !r.error);
  hashesField.value = JSON.stringify(ok);
  submit.disabled = busy > 0 || ok.length === 0;
  status.textContent = busy > 0 ? `Hashing ${busy} file(s) on this device…`
    : ok.length ? `${ok.length} file(s) ready. Only their hashes will be sent.` : "Choose at least one file to continue.";
}

input.addEventListener("change", async () => {
  for (const file of input.files) {
    const index = results.length;
    results.push(null);
    const item = document.createElement("li");
    const url = URL.createObjectURL(file);
    const isVideo = (file.type || "").startsWith("video/");
    const preview = document.createElement(isVideo ? "video" : "img");
    preview.src = url;
    if (isVideo) { preview.muted = true; } else { preview.alt = "Preview of " + file.name; }
    const name = document.createElement("div");
    name.textContent = file.name;
    const progress = document.createElement("progress");
    progress.max = 1; progress.value = 0;
    progress.setAttribute("aria-label", "Hashing " + file.name);
    item.append(preview, name, progress);
    list.append(item);
    busy++;
    update();
    try {
      results[index] = await hashFile(file, { onProgress: (v) => { progress.value = v; } });
      progress.value = 1;
      item.dataset.state = "hashed";
    } catch (e) {
      results[index] = { error: String(e.message || e) };
      const message = document.createElement("div");
      message.className = "error";
      message.textContent = "Could not read this file: " + results[index].error;
      item.append(message);
      item.dataset.state = "error";
    } finally {
      busy--;
      update();
    }
  }
  input.value = "";
});
update();
