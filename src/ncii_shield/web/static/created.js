// Copy or download the case number and PIN (nothing is sent anywhere).
const text = () => `ncii-shield case\nCase number: ${document.getElementById("case-number").textContent}\nPIN: ${document.getElementById("pin").textContent}\n`;
document.getElementById("copy").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText(text()); document.getElementById("copy").textContent = "Copied"; }
  catch (e) { document.getElementById("copy").textContent = "Select and copy the text above"; }
});
document.getElementById("download").addEventListener("click", () => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text()], { type: "text/plain" }));
  link.download = "ncii-shield-case.txt";
  link.click();
  URL.revokeObjectURL(link.href);
});
