// The slower path to a case that had many wrong PINs today (services/pin_guard.py): before the PIN
// is sent, find a nonce such that sha256("ncii-shield-pin:<case number>:<PIN>:<UTC date>:<nonce>")
// starts with the number of zero bits the server asked for. Nothing leaves the page but the nonce.
const form = document.getElementById("status-form");
const bits = Number(form?.dataset.proofBits || 0);  // no form: imported for solve() alone (tests)

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
const W = new Int32Array(64);
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

// One SHA-256 compression of the 64 bytes at bytes[at..at+64) into state (8 words, updated in place).
function compress(state, bytes, at) {
  for (let t = 0; t < 16; t++, at += 4) {
    W[t] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  }
  for (let t = 16; t < 64; t++) {
    const x = W[t - 15], y = W[t - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6], h = state[7];
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0; state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0; state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

// As services/cases.normalise_case_number: NC-XXXX-XXXX-XXXX-XXXX, O read as 0, I and L as 1.
function normalise(text) {
  let s = text.toUpperCase().replace(/[^0-9A-Z]/g, "");
  if (s.startsWith("NC")) s = s.slice(2);
  s = s.replace(/O/g, "0").replace(/[IL]/g, "1");
  return `NC-${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}`;
}

// A nonce for sha256(prefix + nonce) with `bits` leading zero bits. The nonce is any string the page
// likes (the server hashes what it is sent), so it is chosen to make each try one compression: a few
// "0"s pad the prefix to a whole block where that is needed, the fixed blocks are hashed once, and a
// try rewrites only the counter's digits in the last block. The text is hashed as UTF-8, as the server does.
export function solve(prefix, bits) {
  const fixed = new TextEncoder().encode(prefix);
  const rest = fixed.length % 64;
  const pad = rest + 9 + 16 <= 64 ? 0 : 64 - rest;  // room in the last block for 16 digits, the 0x80 and the length
  const head = fixed.length + pad - (pad ? 0 : rest);  // bytes hashed once (whole blocks)
  const message = new Uint8Array(head + 64);
  message.set(fixed);
  message.fill(0x30, fixed.length, fixed.length + pad);  // "0"
  const mid = Int32Array.from(IV);
  for (let at = 0; at < head; at += 64) compress(mid, message, at);
  const tail = message.subarray(head);
  const start = pad ? 0 : rest;  // where the counter's digits go in the tail
  const state = new Int32Array(8);
  const limit = bits >= 32 ? 1 : 2 ** (32 - bits);
  for (let counter = 0; ; counter++) {
    const digits = String(counter);
    const n = start + digits.length;
    for (let i = 0; i < digits.length; i++) tail[start + i] = digits.charCodeAt(i);
    tail[n] = 0x80;
    tail.fill(0, n + 1, 56);
    const length = (head + n) * 8;  // in bits, big-endian in the last 8 bytes (under 2^32 here)
    tail[56] = tail[57] = tail[58] = tail[59] = 0;
    tail[60] = length >>> 24; tail[61] = (length >>> 16) & 255; tail[62] = (length >>> 8) & 255; tail[63] = length & 255;
    state.set(mid);
    compress(state, tail, 0);
    if ((state[0] >>> 0) < limit) return "0".repeat(pad) + digits;
  }
}

if (bits > 0 && bits <= 32) {
  let working = false;
  window.addEventListener("pageshow", () => {  // back to this page after a submit: ready again
    working = false;
    form.querySelector("button[type=submit]").disabled = false;
    document.getElementById("proof-progress").hidden = true;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (working) return;  // a second press while the proof is computed
    working = true;
    form.querySelector("button[type=submit]").disabled = true;
    document.getElementById("proof-progress").hidden = false;  // the sentence that says what is happening
    const day = new Date().toISOString().slice(0, 10);
    const prefix = `ncii-shield-pin:${normalise(form.case_number.value)}:${form.pin.value.trim()}:${day}:`;
    setTimeout(() => {  // let the "working" sentence show first: solving holds this page's thread
      const started = performance.now();
      document.getElementById("proof").value = solve(prefix, bits);
      form.dataset.proofMs = String(Math.round(performance.now() - started));  // how long it took (tests)
      form.submit();
    }, 30);
  });
}
