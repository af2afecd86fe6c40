// emovox web page: record from the microphone (Web Audio PCM -> 16-bit mono WAV) or take a
// file, send it to /v1/predict (or /v1/timeline for long audio) and show the answer.
// No dependencies, no build step.

const LONG_SECONDS = 30; // longer audio is sent to /v1/timeline
const MAX_RECORD_SECONDS = 600;
const KEY_STORE = "emovox.apiKey";

const COLORS = {
  anger: "#d62728", angry: "#d62728", disgust: "#8c564b", fear: "#9467bd",
  fearful: "#9467bd", happy: "#e6a700", happiness: "#e6a700", joy: "#e6a700",
  neutral: "#7f7f7f", calm: "#17becf", sad: "#1f77b4", sadness: "#1f77b4",
  surprise: "#2ca02c", surprised: "#2ca02c", boredom: "#bcbd22",
};
const SPARE = ["#e377c2", "#bcbd22", "#17becf", "#ff7f0e", "#393b79", "#637939"];

const $ = (id) => document.getElementById(id);

export function colorOf(label, labels = []) {
  const key = String(label).toLowerCase();
  if (COLORS[key]) return COLORS[key];
  const i = Math.max(0, labels.indexOf(label));
  return SPARE[i % SPARE.length];
}

// ---------- WAV encoding ----------

export function encodeWav(samples, sampleRate) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => {
    for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i));
  };
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // byte rate
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buffer], { type: "audio/wav" });
}

function concat(chunks) {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// ---------- recording ----------

let rec = null; // {stream, context, source, processor, sink, chunks, started, timer}

async function startRecording() {
  clearError();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("This browser cannot record here (the page needs https or localhost).");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
  } catch (e) {
    showError(`No microphone: ${e.message || e.name}. Allow microphone access, or choose a file.`);
    return;
  }
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  // ScriptProcessor: deprecated but universally available and needs no extra module file.
  const processor = context.createScriptProcessor(4096, 1, 1);
  const sink = context.createGain();
  sink.gain.value = 0; // keep the graph pulling without playing the microphone back
  const chunks = [];
  processor.onaudioprocess = (event) => {
    const data = event.inputBuffer.getChannelData(0);
    chunks.push(new Float32Array(data));
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
    const rms = Math.sqrt(sum / data.length);
    const db = 20 * Math.log10(rms + 1e-9); // -60..0 dBFS -> 0..100 %
    $("level").style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`;
  };
  source.connect(processor);
  processor.connect(sink);
  sink.connect(context.destination);
  if (context.state === "suspended") await context.resume();

  const started = performance.now();
  const timer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    $("timer").textContent = clock(seconds);
    if (seconds >= MAX_RECORD_SECONDS) stopRecording();
  }, 200);
  rec = { stream, context, source, processor, sink, chunks, started, timer };
  $("record").disabled = true;
  $("stop").disabled = false;
  $("stop").focus();
  document.body.classList.add("recording");
  setStatus("Recording… press Stop when you are done.");
}

async function stopRecording() {
  if (!rec) return;
  const { stream, context, source, processor, sink, chunks, timer } = rec;
  rec = null;
  clearInterval(timer);
  processor.onaudioprocess = null;
  source.disconnect();
  processor.disconnect();
  sink.disconnect();
  stream.getTracks().forEach((t) => t.stop());
  const rate = context.sampleRate;
  await context.close();
  $("record").disabled = false;
  $("stop").disabled = true;
  $("level").style.width = "0%";
  document.body.classList.remove("recording");
  $("record").focus();

  const samples = concat(chunks);
  const seconds = samples.length / rate;
  if (samples.length === 0) {
    showError("Nothing was recorded: the microphone gave no sound.");
    setStatus("");
    return;
  }
  await analyse(encodeWav(samples, rate), "recording.wav", seconds);
}

// ---------- files ----------

async function durationOf(file) {
  // Best effort: browsers decode common formats; unknown -> null (sent to /v1/predict).
  try {
    const context = new OfflineAudioContext(1, 1, 44100);
    const audio = await context.decodeAudioData(await file.arrayBuffer());
    return audio.duration;
  } catch {
    return null;
  }
}

async function analyseFile(file) {
  if (!file) return;
  clearError();
  setStatus(`Reading ${file.name}…`);
  const seconds = await durationOf(file);
  await analyse(file, file.name, seconds);
}

// ---------- talking to the server ----------

function headers() {
  const key = $("apikey").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export async function readError(response) {
  let code = `http_${response.status}`;
  let message = "";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || "";
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
  } catch {
    /* not JSON */
  }
  if (response.status === 401) {
    message = `${message || "An API key is required."} Enter the key under "API key" and try again.`;
  } else if (response.status === 503) {
    const after = response.headers.get("Retry-After");
    message = `${message || "The server is busy."} Try again${after ? ` in ${after} s` : " shortly"}.`;
  } else if (response.status === 413) {
    message = message || "The file is too large for this server.";
  }
  return { code, message: message || `The server answered ${response.status} ${response.statusText}.` };
}

let busy = false;

async function analyse(blob, name, seconds) {
  if (busy) return;
  busy = true;
  const long = $("long").checked || (seconds !== null && seconds > LONG_SECONDS);
  const endpoint = long ? "/v1/timeline" : "/v1/predict";
  const form = new FormData();
  form.append("file", blob, name);
  $("result").hidden = true; // never leave an old answer next to a new question
  setStatus(`Analysing ${name}${seconds ? ` (${seconds.toFixed(1)} s)` : ""}…`);
  document.body.classList.add("busy");
  try {
    let response;
    try {
      response = await fetch(endpoint, { method: "POST", body: form, headers: headers() });
    } catch (e) {
      showError(`Could not reach the server (${e.message}). Is emovox serve still running?`);
      setStatus("");
      return;
    }
    if (!response.ok) {
      const { code, message } = await readError(response);
      showError(message, code);
      setStatus("");
      return;
    }
    const body = await response.json();
    if (long) showTimeline(body, name);
    else showPrediction(body, name);
    setStatus("Done.");
  } finally {
    busy = false;
    document.body.classList.remove("busy");
  }
}

// ---------- showing results ----------

function setStatus(text) {
  $("status").textContent = text;
}

function showError(message, code) {
  const box = $("error");
  box.textContent = "";
  const strong = document.createElement("strong");
  strong.textContent = "Error: ";
  box.append(strong, message);
  if (code) {
    const small = document.createElement("span");
    small.className = "code";
    small.textContent = ` (${code})`;
    box.append(small);
  }
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

const pct = (p) => `${Math.round(p * 100)}%`;

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

function showWarnings(warnings, speech) {
  const list = $("warnings");
  list.textContent = "";
  const all = [...(warnings || [])];
  if (speech === false && all.length === 0) all.push("No speech was detected: the answer is a guess.");
  for (const w of all) {
    const li = document.createElement("li");
    li.textContent = w;
    list.append(li);
  }
}

function drawBars(probabilities, winner) {
  const bars = $("bars");
  bars.textContent = "";
  const labels = Object.keys(probabilities);
  const sorted = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  for (const [label, p] of sorted) {
    const row = document.createElement("div");
    row.className = "bar-row" + (label === winner ? " winner" : "");
    row.setAttribute("role", "listitem");
    row.dataset.label = label;
    const name = document.createElement("span");
    name.className = "bar-name";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "bar-track";
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    fill.style.background = colorOf(label, labels);
    track.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = pct(p);
    row.append(name, track, value);
    bars.append(row);
  }
}

function showHeadline(label, confidence, labels) {
  $("label").textContent = label;
  $("label").style.color = colorOf(label, labels);
  $("confidence").textContent = confidence === null ? "" : `${pct(confidence)} confident`;
}

export function showPrediction(body, name) {
  const labels = Object.keys(body.probabilities || {});
  showHeadline(body.label, body.confidence, labels);
  showWarnings(body.warnings, body.speech);
  drawBars(body.probabilities || {}, body.label);
  $("timeline").hidden = true;
  $("meta").textContent = meta(name, body.duration, body.model);
  reveal();
}

function meta(name, duration, model) {
  const parts = [name];
  if (typeof duration === "number") parts.push(`${duration.toFixed(1)} s`);
  if (model) parts.push(`model ${model}`);
  return parts.join(" · ");
}

function reveal() {
  $("result").hidden = false;
  $("result").classList.remove("fresh");
  void $("result").offsetWidth; // restart the highlight animation
  $("result").classList.add("fresh");
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export function showTimeline(body, name) {
  const rows = body.rows || [];
  const labels = rows.length ? Object.keys(rows[0].probabilities || {}) : [];
  const channels = [...new Set(rows.map((r) => String(r.channel)))];
  const duration = body.duration || Math.max(0, ...rows.map((r) => r.end));

  // Headline: the emotion holding most speech time over all channels.
  const time = {};
  for (const r of rows) time[r.label] = (time[r.label] || 0) + (r.end - r.start);
  const total = Object.values(time).reduce((a, b) => a + b, 0);
  const top = Object.entries(time).sort((a, b) => b[1] - a[1])[0];
  if (top) {
    showHeadline(top[0], null, labels);
    $("confidence").textContent = `${pct(top[1] / total)} of speech time`;
  } else {
    showHeadline("no speech", null, labels);
  }
  showWarnings(body.warnings, rows.length ? undefined : false);
  const shares = {};
  for (const l of labels) shares[l] = total ? (time[l] || 0) / total : 0;
  drawBars(shares, top ? top[0] : null);

  // The strip: one lane per channel, one block per row.
  const width = 1000;
  const lane = 56;
  const axis = 30;
  const left = channels.length > 1 ? 110 : 0;
  const height = channels.length * (lane + 6) + axis;
  const chart = svg("svg", {
    viewBox: `0 0 ${width + left} ${height}`,
    role: "img",
    "aria-label": `Emotion over ${duration.toFixed(1)} s: ${rows.length} segments`,
    class: "strip",
  });
  const x = (t) => left + (duration > 0 ? (t / duration) * width : 0);
  channels.forEach((ch, i) => {
    const y = i * (lane + 6);
    chart.append(svg("rect", { x: left, y, width, height: lane, class: "lane" }));
    if (left) {
      const t = svg("text", { x: 4, y: y + lane / 2 + 7, class: "lane-name" });
      t.textContent = ch;
      chart.append(t);
    }
    for (const r of rows.filter((row) => String(row.channel) === ch)) {
      const block = svg("rect", {
        x: x(r.start),
        y,
        width: Math.max(1, x(r.end) - x(r.start)),
        height: lane,
        fill: colorOf(r.label, labels),
        "fill-opacity": (0.35 + 0.65 * (r.confidence ?? 1)).toFixed(2),
        class: "block",
        "data-label": r.label,
      });
      const title = svg("title");
      title.textContent = `${r.label} ${pct(r.confidence ?? 0)}, ${r.start.toFixed(1)}–${r.end.toFixed(1)} s`;
      block.append(title);
      chart.append(block);
    }
  });
  const ticks = 5;
  for (let k = 0; k <= ticks; k++) {
    const t = (duration * k) / ticks;
    const label = svg("text", {
      x: x(t),
      y: height - 4,
      class: "tick",
      "text-anchor": k === 0 ? "start" : k === ticks ? "end" : "middle",
    });
    label.textContent = `${t.toFixed(t < 10 ? 1 : 0)} s`;
    chart.append(label);
  }
  $("timeline-chart").textContent = "";
  $("timeline-chart").append(chart);

  const legend = $("legend");
  legend.textContent = "";
  for (const l of labels) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = colorOf(l, labels);
    item.append(swatch, l);
    legend.append(item);
  }
  showSummary(body.summary || {});
  $("timeline").hidden = false;
  $("meta").textContent = meta(name, body.duration, body.model);
  reveal();
}

function showSummary(summary) {
  const box = $("summary");
  box.textContent = "";
  for (const [channel, value] of Object.entries(summary)) {
    const shares = value && typeof value === "object" && value.shares ? value.shares : value;
    if (!shares || typeof shares !== "object") continue;
    const p = document.createElement("p");
    const parts = Object.entries(shares)
      .filter(([, v]) => typeof v === "number" && v > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${pct(v)}`);
    const speech = typeof value.speech === "number" ? ` (${value.speech.toFixed(1)} s of speech)` : "";
    p.textContent = `Channel ${channel}${speech}: ${parts.join(", ") || "no speech"}`;
    box.append(p);
  }
}

// ---------- wiring ----------

function init() {
  $("record").addEventListener("click", startRecording);
  $("stop").addEventListener("click", stopRecording);
  $("file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    e.target.value = ""; // choosing the same file again fires "change" again
    analyseFile(file);
  });

  const key = $("apikey");
  key.value = sessionStorage.getItem(KEY_STORE) || "";
  key.addEventListener("change", () => sessionStorage.setItem(KEY_STORE, key.value.trim()));

  const drop = $("drop");
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    analyseFile(e.dataTransfer.files[0]);
  });
  document.body.dataset.ready = "true";
}

init();
