// ncii-shield in-browser hashing: the photo or video never leaves the device, only its hashes do.
//
//   import { hashFile } from "/static/hashing.js";
//   const h = await hashFile(file, { onProgress: (fraction) => ... });
//   // photo: {pdq, pdq_quality, md5, sha256}
//   // video: {vpdq: [{frame, timestamp, pdq, quality}], md5, sha256}
//
// PDQ follows Meta's reference implementation step by step (luma, two Jarosz box-filter passes,
// decimation to 64x64, quality metric, 16x16 DCT, Torben median) and emulates its float32
// arithmetic with Math.fround, so that hashes are bit-exact with the reference on the same pixels.
// Heavy work runs in a Web Worker started from this same module, so the page stays responsive.
// No network access: nothing here fetches or sends anything.

const f = Math.fround;

// ---------------------------------------------------------------- PDQ core (pure functions)

const DCT = (() => {
  const scale = f(Math.sqrt(2.0 / 64.0));
  const d = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      d[i * 64 + j] = scale * Math.cos((Math.PI / 2.0 / 64.0) * (i + 1) * (2 * j + 1));
    }
  }
  return d;
})();

// Luma of RGBA pixels, as the reference's Python bindings compute it (double, then float32).
export function lumaFromRGBA(rgba, count, out, offset = 0) {
  for (let p = 0, q = 0; p < count; p++, q += 4) {
    out[offset + p] = rgba[q] * 0.299 + rgba[q + 1] * 0.587 + rgba[q + 2] * 0.114;
  }
}

function jaroszWindow(oldDim, newDim) {
  return Math.floor((oldDim + 2 * newDim - 1) / (2 * newDim));
}

// One 1-D box filter pass, as box1DFloat: `line` holds a copy of the input, results go to buf.
function box1D(line, buf, start, length, stride, window) {
  const half = Math.floor((window + 2) / 2);
  const p1 = half - 1, p2 = window - half + 1, p3 = length - window, p4 = half - 1;
  let li = 0, ri = 0, oi = start, sum = 0, n = 0;
  for (let i = 0; i < p1; i++) { sum = f(sum + line[ri++]); n++; }
  for (let i = 0; i < p2; i++) { sum = f(sum + line[ri++]); n++; buf[oi] = f(sum / n); oi += stride; }
  for (let i = 0; i < p3; i++) {
    sum = f(sum + line[ri++]); sum = f(sum - line[li++]); buf[oi] = f(sum / n); oi += stride;
  }
  for (let i = 0; i < p4; i++) { sum = f(sum - line[li++]); n--; buf[oi] = f(sum / n); oi += stride; }
}

// Two Jarosz passes in place (rows then columns, twice), one Float32Array for the whole image.
function jarosz(buf, rows, cols) {
  const wRows = jaroszWindow(cols, 64), wCols = jaroszWindow(rows, 64);
  const line = new Float32Array(Math.max(rows, cols));
  for (let rep = 0; rep < 2; rep++) {
    for (let i = 0; i < rows; i++) {
      const start = i * cols;
      line.set(buf.subarray(start, start + cols));
      box1D(line, buf, start, cols, 1, wRows);
    }
    for (let j = 0; j < cols; j++) {
      for (let i = 0, k = j; i < rows; i++, k += cols) line[i] = buf[k];
      box1D(line, buf, j, rows, cols, wCols);
    }
  }
}

function decimate(buf, rows, cols) {
  const out = new Float32Array(64 * 64);
  for (let i = 0; i < 64; i++) {
    const ini = Math.floor(((i + 0.5) * rows) / 64);
    for (let j = 0; j < 64; j++) {
      const inj = Math.floor(((j + 0.5) * cols) / 64);
      out[i * 64 + j] = buf[ini * cols + inj];
    }
  }
  return out;
}

function quality(a) {
  let sum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      sum += Math.abs(Math.trunc(f(f(f(a[i * 64 + j] - a[(i + 1) * 64 + j]) * 100) / 255)));
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      sum += Math.abs(Math.trunc(f(f(f(a[i * 64 + j] - a[i * 64 + j + 1]) * 100) / 255)));
    }
  }
  return Math.min(100, Math.floor(sum / 90));
}

function dct64To16(a) {
  const t = new Float32Array(16 * 64), b = new Float32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s = f(s + f(DCT[i * 64 + k] * a[k * 64 + j]));
      t[i * 64 + j] = s;
    }
  }
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s = f(s + f(t[i * 64 + k] * DCT[j * 64 + k]));
      b[i * 16 + j] = s;
    }
  }
  return b;
}

function torben(m) {
  const n = m.length;
  let min = m[0], max = m[0];
  for (let i = 1; i < n; i++) { if (m[i] < min) min = m[i]; if (m[i] > max) max = m[i]; }
  let less, greater, equal, guess, maxlt, mingt;
  for (;;) {
    guess = f(f(min + max) / 2);
    less = 0; greater = 0; equal = 0; maxlt = min; mingt = max;
    for (let i = 0; i < n; i++) {
      if (m[i] < guess) { less++; if (m[i] > maxlt) maxlt = m[i]; }
      else if (m[i] > guess) { greater++; if (m[i] < mingt) mingt = m[i]; }
      else equal++;
    }
    const half = Math.floor((n + 1) / 2);
    if (less <= half && greater <= half) break;
    if (less > greater) max = maxlt; else min = mingt;
  }
  const half = Math.floor((n + 1) / 2);
  if (less >= half) return maxlt;
  if (less + equal >= half) return guess;
  return mingt;
}

function bitsToHex(b) {
  const median = torben(b);
  const w = new Uint16Array(16);
  for (let k = 0; k < 256; k++) if (b[k] > median) w[k >> 4] |= 1 << (k & 15);
  let hex = "";
  for (let i = 15; i >= 0; i--) hex += w[i].toString(16).padStart(4, "0");
  return hex;
}

// PDQ of a luma buffer (Float32Array rows*cols, modified in place). Returns {pdq, quality}.
export function pdqFromLuma(luma, rows, cols) {
  if (rows < 5 || cols < 5) return { pdq: "0".repeat(64), quality: 0 };
  let a;
  if (rows === 64 && cols === 64) {
    a = Float32Array.from(luma);
  } else {
    jarosz(luma, rows, cols);
    a = decimate(luma, rows, cols);
  }
  return { pdq: bitsToHex(dct64To16(a)), quality: quality(a) };
}

// ---------------------------------------------------------------- MD5 (RFC 1321) and SHA-256

const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

export function md5(bytes) {
  const n = bytes.length, padded = ((n + 8) >> 6) + 1 << 6;
  const m = new Uint8Array(padded);
  m.set(bytes);
  m[n] = 0x80;
  const bits = n * 8;
  const dv = new DataView(m.buffer);
  dv.setUint32(padded - 8, bits >>> 0, true);
  dv.setUint32(padded - 4, Math.floor(bits / 2 ** 32), true);
  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  const x = new Uint32Array(16);
  for (let off = 0; off < padded; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = dv.getUint32(off + 4 * i, true);
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      let fn, g;
      if (i < 16) { fn = (b & c) | (~b & d); g = i; }
      else if (i < 32) { fn = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
      else if (i < 48) { fn = b ^ c ^ d; g = (3 * i + 5) & 15; }
      else { fn = c ^ (b | ~d); g = (7 * i) & 15; }
      const s = MD5_S[(i >> 4) * 4 + (i & 3)];
      const t = (a + fn + MD5_K[i] + x[g]) >>> 0;
      a = d; d = c; c = b;
      b = (b + ((t << s) | (t >>> (32 - s)))) >>> 0;
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0; d0 = (d0 + d) >>> 0;
  }
  const out = new DataView(new ArrayBuffer(16));
  [a0, b0, c0, d0].forEach((v, i) => out.setUint32(4 * i, v, true));
  return [...new Uint8Array(out.buffer)].map((v) => v.toString(16).padStart(2, "0")).join("");
}

export async function sha256(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((v) => v.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------- decoding (worker side)

const STRIP = 256; // rows read from the canvas at a time: a 24 MP photo never needs its RGBA whole

// Pixels are read as the file stores them, as the server (Pillow) and Meta's reference read them:
// - colorSpaceConversion "none": the browser does not convert an embedded ICC profile (Display P3
//   on most phone photos) to the screen's colours; converting moved the hash by up to 14 bits.
// - premultiplyAlpha "none": colour values of translucent pixels are kept. A 2D canvas stores
//   premultiplied pixels whatever the bitmap holds, so where a photo has any translucent pixel they
//   are read again through WebGL2, which uploads and reads back straight RGBA unchanged.
const BITMAP_OPTIONS = { imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none" };

// Luma through a 2D canvas, strip by strip. Returns whether any pixel was translucent.
function lumaFromCanvas(bitmap, luma) {
  const cols = bitmap.width, rows = bitmap.height;
  const canvas = new OffscreenCanvas(cols, Math.min(STRIP, rows));
  const ctx = canvas.getContext("2d", { willReadFrequently: true, colorSpace: "srgb" });
  let translucent = false;
  for (let top = 0; top < rows; top += STRIP) {
    const h = Math.min(STRIP, rows - top);
    ctx.clearRect(0, 0, cols, canvas.height);
    ctx.drawImage(bitmap, 0, top, cols, h, 0, 0, cols, h);
    const data = ctx.getImageData(0, 0, cols, h, { colorSpace: "srgb" }).data;
    if (!translucent) for (let q = 3; q < data.length; q += 4) if (data[q] !== 255) { translucent = true; break; }
    lumaFromRGBA(data, cols * h, luma, top * cols);
  }
  return translucent;
}

// Luma from straight (not premultiplied) RGBA through WebGL2: the bitmap becomes an RGBA8 texture
// and is read back strip by strip. Returns false, leaving `luma` untouched, where WebGL2 is missing,
// the photo is larger than a texture may be, or anything fails.
function lumaFromWebGL(bitmap, luma) {
  const cols = bitmap.width, rows = bitmap.height;
  let gl = null;
  try {
    gl = new OffscreenCanvas(1, 1).getContext("webgl2", { premultipliedAlpha: false });
  } catch (e) {
    return false;
  }
  if (!gl) return false;
  try {
    const max = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    if (cols > max || rows > max) return false;
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.pixelStorei(gl.PACK_ALIGNMENT, 1);
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, cols, rows, 0, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    const framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, framebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, texture, 0);
    if (gl.getError() !== gl.NO_ERROR || gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) return false;
    const strip = new Uint8Array(cols * Math.min(STRIP, rows) * 4);
    const out = new Float32Array(cols * Math.min(STRIP, rows));
    const read = [];
    // Texture row 0 is the photo's top row and framebuffer row 0, which readPixels returns first.
    for (let top = 0; top < rows; top += STRIP) {
      const h = Math.min(STRIP, rows - top);
      gl.readPixels(0, top, cols, h, gl.RGBA, gl.UNSIGNED_BYTE, strip.subarray(0, cols * h * 4));
      if (gl.getError() !== gl.NO_ERROR) return false;
      lumaFromRGBA(strip, cols * h, out);
      read.push([top * cols, out.slice(0, cols * h)]);
    }
    for (const [offset, values] of read) luma.set(values, offset);
    return true;
  } catch (e) {
    return false;
  } finally {
    const lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
  }
}

// A copy of a JPEG, PNG or WebP without its colour profile (ICC, and PNG's sRGB/gAMA/cHRM/cICP):
// some engines (WebKit) convert colours whatever colorSpaceConversion says, but none can convert
// what is not there. Other files, and files that do not parse, come back unchanged.
export function withoutColourProfile(bytes) {
  try {
    const kept = [];
    const ascii = (at, n) => String.fromCharCode(...bytes.subarray(at, at + n));
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      let i = 2;
      kept.push([0, 2]);
      while (i + 4 <= bytes.length && bytes[i] === 0xff) {
        const marker = bytes[i + 1];
        if (marker === 0xff) { kept.push([i, i + 1]); i++; continue; } // a fill byte
        if (marker === 0xda || marker === 0xd9) break; // image data follows: keep the rest
        const end = i + 2 + ((bytes[i + 2] << 8) | bytes[i + 3]);
        if (!(marker === 0xe2 && ascii(i + 4, 12) === "ICC_PROFILE\0")) kept.push([i, end]);
        i = end;
      }
      kept.push([i, bytes.length]);
    } else if (ascii(1, 3) === "PNG") {
      const drop = new Set(["iCCP", "sRGB", "gAMA", "cHRM", "cICP"]);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let i = 8;
      kept.push([0, 8]);
      while (i + 12 <= bytes.length) {
        const end = i + 12 + dv.getUint32(i), type = ascii(i + 4, 4);
        if (!drop.has(type)) kept.push([i, end]);
        i = end;
        if (type === "IEND") break;
      }
      kept.push([i, bytes.length]);
    } else if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      let i = 12;
      kept.push([0, 12]);
      while (i + 8 <= bytes.length) {
        const end = i + 8 + dv.getUint32(i + 4, true) + (dv.getUint32(i + 4, true) & 1);
        if (ascii(i, 4) !== "ICCP") kept.push([i, end]);
        i = end;
      }
      kept.push([i, bytes.length]);
    } else {
      return bytes;
    }
    const out = new Uint8Array(kept.reduce((n, [a, b]) => n + Math.max(0, Math.min(b, bytes.length) - a), 0));
    let o = 0;
    for (const [a, b] of kept) { const part = bytes.subarray(a, Math.min(b, bytes.length)); out.set(part, o); o += part.length; }
    if (ascii(0, 4) === "RIFF") {
      const dv = new DataView(out.buffer);
      dv.setUint32(4, out.length - 8, true);
      if (String.fromCharCode(...out.subarray(12, 16)) === "VP8X") out[20] &= ~0x20; // "has ICC" flag
    }
    return out;
  } catch (e) {
    return bytes;
  }
}

async function hashPhotoInWorker(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([withoutColourProfile(bytes)]), BITMAP_OPTIONS);
  } catch (e) {
    bitmap = null; // a layout our profile remover misreads: decode the file as it is
  }
  try {
    if (!bitmap) bitmap = await createImageBitmap(file, BITMAP_OPTIONS);
  } catch (e) {
    throw new Error("This file could not be read as a photo. Photos in JPEG, PNG, WebP or HEIC (where your browser shows it) work.");
  }
  const cols = bitmap.width, rows = bitmap.height;
  const luma = new Float32Array(rows * cols);
  // Where WebGL2 is missing, translucent pixels keep the canvas's premultiplied values (a few bits off).
  if (lumaFromCanvas(bitmap, luma)) lumaFromWebGL(bitmap, luma);
  bitmap.close();
  const { pdq, quality } = pdqFromLuma(luma, rows, cols);
  return { pdq, pdq_quality: quality, md5: md5(bytes), sha256: await sha256(bytes) };
}

function hashFrameInWorker(rgba, width, height) {
  const luma = new Float32Array(width * height);
  lumaFromRGBA(rgba, width * height, luma);
  return pdqFromLuma(luma, height, width);
}

async function hashBytesInWorker(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { md5: md5(bytes), sha256: await sha256(bytes) };
}

const IN_WORKER = typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope;

if (IN_WORKER) {
  self.onmessage = async (event) => {
    const { id, kind } = event.data;
    try {
      let result;
      if (kind === "photo") result = await hashPhotoInWorker(event.data.file);
      else if (kind === "frame") result = hashFrameInWorker(event.data.rgba, event.data.width, event.data.height);
      else if (kind === "bytes") result = await hashBytesInWorker(event.data.file);
      self.postMessage({ id, result });
    } catch (e) {
      self.postMessage({ id, error: String(e && e.message ? e.message : e) });
    }
  };
}

// ---------------------------------------------------------------- page side

let worker = null, nextId = 0;
const pending = new Map();

function call(message, transfer = []) {
  if (!worker) {
    worker = new Worker(import.meta.url, { type: "module" });
    worker.onmessage = (event) => {
      const { id, result, error } = event.data;
      const p = pending.get(id);
      pending.delete(id);
      if (error) p.reject(new Error(error)); else p.resolve(result);
    };
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, ...message }, transfer);
  });
}

function isVideo(file) {
  return (file.type || "").startsWith("video/") || /\.(mp4|mov|m4v|webm|mkv|avi)$/i.test(file.name || "");
}

// Sample one frame per second with <video> + canvas, as the server's vPDQ does.
async function hashVideo(file, onProgress) {
  const url = URL.createObjectURL(file);
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  video.src = url;
  try {
    await new Promise((resolve, reject) => {
      video.onloadeddata = resolve;
      video.onerror = () => reject(new Error("This video could not be played by your browser, so it cannot be hashed here."));
    });
    const duration = video.duration;
    if (!Number.isFinite(duration) || duration <= 0) throw new Error("This video has no length we can read.");
    const width = video.videoWidth, height = video.videoHeight;
    const canvas = document.createElement("canvas");
    canvas.width = width; canvas.height = height;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const fps = await estimateFps(video);
    const frames = [];
    const count = Math.max(1, Math.floor(duration - 1e-6) + 1);
    for (let s = 0; s < count; s++) {
      await seek(video, s);
      ctx.drawImage(video, 0, 0, width, height);
      const rgba = ctx.getImageData(0, 0, width, height).data;
      const { pdq, quality } = await call({ kind: "frame", rgba, width, height }, [rgba.buffer]);
      frames.push({ frame: Math.round(s * fps), timestamp: s, pdq, quality });
      if (onProgress) onProgress((s + 1) / (count + 1));
    }
    const digests = await call({ kind: "bytes", file });
    return { vpdq: frames, ...digests };
  } finally {
    URL.revokeObjectURL(url);
  }
}

// Resolve once the frame at `time` is on screen. The "seeked" event can fire before Chromium
// presents the new frame, and drawing then copies the previous one (a rare, load-dependent race);
// so also wait for the next presented frame, or at most a second where that callback never comes.
function seek(video, time) {
  return new Promise((resolve) => {
    const watchFrames = "requestVideoFrameCallback" in video;
    let seeked = false, presented = !watchFrames, timer = null, handle = null;
    const finish = () => {
      if (!seeked || !presented) return;
      clearTimeout(timer);
      resolve();
    };
    if (watchFrames) handle = video.requestVideoFrameCallback(() => { presented = true; finish(); });
    video.onseeked = () => {
      seeked = true;
      if (!presented) {
        timer = setTimeout(() => {
          video.cancelVideoFrameCallback(handle);
          presented = true;
          finish();
        }, 1000);
      }
      finish();
    };
    video.currentTime = time;
  });
}

async function estimateFps(video) {
  if (!("requestVideoFrameCallback" in video)) return 25;
  try {
    const first = await new Promise((resolve) => { video.requestVideoFrameCallback((_, m) => resolve(m)); video.play(); });
    const second = await new Promise((resolve) => video.requestVideoFrameCallback((_, m) => resolve(m)));
    video.pause();
    const dt = second.mediaTime - first.mediaTime;
    return dt > 0 ? Math.round(1 / dt) : 25;
  } catch (e) {
    video.pause();
    return 25;
  }
}

export async function hashFile(file, { onProgress } = {}) {
  if (!file || !file.size) throw new Error("This file is empty.");
  if (isVideo(file)) return hashVideo(file, onProgress);
  if (onProgress) onProgress(0.1);
  const result = await call({ kind: "photo", file });
  if (onProgress) onProgress(1);
  return result;
}
