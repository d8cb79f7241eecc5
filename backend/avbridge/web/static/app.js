// The page: a chat session's face, voice and words, with the AudioContext as the master clock.
//
// Session time (the server's clock for this session) maps onto the AudioContext's clock by one
// offset, estimated from the `now` every gateway message carries: the smallest (context time -
// now) seen lately, since network delay only ever adds to it. Audio pieces are scheduled at their
// session time; each animation frame samples the face at the session time being heard
// (context time - output latency - offset), interpolating between the two frames around it.
import * as THREE from 'three';
import { GLTFLoader } from 'three';

const $ = (id) => document.getElementById(id);
// What the page did, for people with a console open and for the browser test.
const debug = window.avbridge = { ready: false, state: 'idle', events: [], mouth: [], errors: [], ends: [], lines: 0, audioPieces: 0, outputPeak: 0 };

// -- the face ---------------------------------------------------------------------------------
const canvas = $('face');
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true });
renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
renderer.outputColorSpace = THREE.SRGBColorSpace;
const scene = new THREE.Scene();
scene.background = new THREE.Color(0x22242c);
const camera = new THREE.PerspectiveCamera(24, 1, 0.01, 10);
camera.position.set(0, 0.005, 0.62);
scene.add(new THREE.HemisphereLight(0xfff4ea, 0x30323c, 0.9));
const key = new THREE.DirectionalLight(0xffffff, 1.5);
key.position.set(0.35, 0.45, 1.0);
scene.add(key);

const head = new THREE.Group();          // turns about the neck pivot
const face = { mesh: null, eyes: [], pivot: new THREE.Vector3(), ready: false };
scene.add(head);

async function loadFace() {
  const gltf = await new GLTFLoader().loadAsync('/face.glb');
  const extras = gltf.scene.userData;
  face.pivot.fromArray(extras.neckPivot);
  head.position.copy(face.pivot);
  gltf.scene.position.copy(face.pivot).multiplyScalar(-1);
  head.add(gltf.scene);
  gltf.scene.traverse((o) => { if (o.isMesh && o.morphTargetInfluences) face.mesh = o; });
  const white = new THREE.MeshStandardMaterial({ color: 0xece8e2, roughness: 0.3 });
  const iris = new THREE.MeshStandardMaterial({ color: 0x486078, roughness: 0.25 });
  for (const centre of extras.eyeCentres) {
    const eye = new THREE.Group();
    eye.position.fromArray(centre).add(new THREE.Vector3(0, 0, -extras.eyeRadius * 0.6)).sub(face.pivot);
    const ball = new THREE.Mesh(new THREE.SphereGeometry(extras.eyeRadius, 24, 16), white);
    const disc = new THREE.Mesh(new THREE.SphereGeometry(extras.irisRadius, 16, 12), iris);
    disc.scale.set(1, 1, 0.35);
    disc.position.z = extras.eyeRadius * 0.86;
    eye.add(ball, disc);
    head.add(eye);
    face.eyes.push(eye);
  }
  face.ready = true;
}

function resize() {
  const { clientWidth: w, clientHeight: h } = canvas.parentElement;
  renderer.setSize(w, h, false);
  camera.aspect = w / Math.max(1, h);
  camera.updateProjectionMatrix();
}
window.addEventListener('resize', resize);
resize();

// -- the clock and the streams ----------------------------------------------------------------
let audio = null;                       // AudioContext
let offset = null;                      // context time - session time
const offsetSamples = [];               // [context time, context time - now]
const streams = new Map();              // utterance -> { start, fps, idle, frames: [], cut, sources: [] }
let fps = 60, sampleRate = 22050;
let output = null;                      // everything the page plays goes through here: its level is watched
const level = new Float32Array(1024);

function noteNow(now) {
  const t = audio.currentTime;
  offsetSamples.push([t, t - now]);
  while (offsetSamples.length && offsetSamples[0][0] < t - 10) offsetSamples.shift();
  const best = Math.min(...offsetSamples.map((s) => s[1]));
  // A little margin for the jitter of the network and the event loop.
  offset = offset === null ? best + 0.05 : Math.min(offset, best + 0.05) + Math.max(0, best + 0.05 - offset) * 0.02;
}

const hearingNow = () => audio.currentTime - (audio.outputLatency || 0) - offset;

function stream(utterance) {
  let s = streams.get(utterance);
  if (!s) streams.set(utterance, s = { start: null, fps, idle: false, frames: [], cut: Infinity, sources: [], text: '' });
  return s;
}

function playAudio(header, pcm) {
  const s = stream(header.utterance);
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength / 2);
  const buffer = audio.createBuffer(1, samples.length, sampleRate);
  const data = buffer.getChannelData(0);
  for (let i = 0; i < samples.length; i++) data[i] = samples[i] / 32768;
  const at = s.start + header.offset / sampleRate;                // session time of its first sample
  if (at >= s.cut) return;
  const when = at + offset;
  const source = audio.createBufferSource();
  source.buffer = buffer;
  source.connect(output);
  const late = audio.currentTime - when;
  if (late >= buffer.duration) return;
  if (late > 0) source.start(0, late); else source.start(when);
  if (s.cut !== Infinity) source.stop(s.cut + offset);
  s.sources.push(source);
  source.onended = () => { s.sources = s.sources.filter((x) => x !== source); };
  debug.audioPieces++;
}

function storeFrames(header, values) {
  const s = stream(header.utterance);
  const floats = new Float32Array(values.buffer, values.byteOffset, values.byteLength / 4);
  const width = floats.length / header.count;
  for (let i = 0; i < header.count; i++) s.frames[header.first + i] = floats.subarray(i * width, (i + 1) * width);
}

function cut(utterance, time) {
  const s = streams.get(utterance);
  if (!s) return;
  s.cut = time;
  for (const source of s.sources) { try { source.stop(time + offset); } catch (e) { /* already ended */ } }
}

// The frame heard at session time t: the speaking line's if one covers t, else the idle stream's.
const current = new Float32Array(63);
current[55] = 1;
function sampleFace(t) {
  let chosen = null;
  for (const s of streams.values()) {
    if (s.start === null || t < s.start || t >= s.cut) continue;
    const k = (t - s.start) * s.fps;
    if (k >= s.frames.length) continue;
    if (!chosen || (chosen.s.idle && !s.idle)) chosen = { s, k };
  }
  if (!chosen) return false;
  const { s, k } = chosen;
  const i = Math.floor(k), a = s.frames[i], b = s.frames[i + 1] || a;
  if (!a) return false;
  const f = k - i;
  for (let j = 0; j < 63; j++) current[j] = a[j] + (b[j] - a[j]) * f;
  return !s.idle;
}

function forget(t) {
  for (const [id, s] of streams) {
    const end = Math.min(s.cut, s.start + s.frames.length / s.fps);
    if (s.ended && end < t - 2) streams.delete(id);
  }
}

// ?fps=N draws at most N frames a second (a kiosk on a weak GPU; the headless test's software GL).
const drawEvery = 1000 / (Number(new URLSearchParams(location.search).get('fps')) || 1000);
let drawnAt = 0;
const quaternion = new THREE.Quaternion();
function draw(ms) {
  requestAnimationFrame(draw);
  if (ms - drawnAt < drawEvery - 1) return;
  drawnAt = ms;
  if (face.ready && audio && offset !== null) {
    const t = hearingNow();
    const speaking = sampleFace(t);
    const influences = face.mesh.morphTargetInfluences;
    for (let j = 0; j < 52; j++) influences[j] = current[j];
    quaternion.set(current[52], current[53], current[54], current[55]).normalize();
    head.quaternion.copy(quaternion);
    head.position.set(face.pivot.x + current[56], face.pivot.y + current[57], face.pivot.z + current[58]);
    face.eyes.forEach((eye, i) => eye.rotation.set(current[60 + 2 * i] || 0, current[59 + 2 * i] || 0, 0, 'YXZ'));
    output.getFloatTimeDomainData(level);
    let peak = 0;
    for (const x of level) peak = Math.max(peak, Math.abs(x));
    debug.outputPeak = Math.max(debug.outputPeak, peak);
    debug.mouth.push([t, current[JAW], speaking ? 1 : 0, peak]);
    if (debug.mouth.length > 4000) debug.mouth.splice(0, 1000);
    forget(t);
  }
  renderer.render(scene, camera);
}
let JAW = -1;                           // jawOpen's place in a frame, from the session's names

// -- the conversation log ---------------------------------------------------------------------
const log = $('log');
let partial = null, reply = null;
function line(who, text, cls = '') {
  const p = document.createElement('p');
  p.className = `turn ${who} ${cls}`;
  p.innerHTML = `<b>${who === 'you' ? 'You' : 'Avatar'}</b>`;
  p.append(document.createTextNode(text));
  log.append(p);
  log.scrollTop = log.scrollHeight;
  return p;
}
function setText(p, text) { p.lastChild.textContent = text; log.scrollTop = log.scrollHeight; }

function onEvent(m) {
  debug.events.push({ name: m.name, text: m.text, final: m.final, time: m.time });
  if (m.name === 'state') { debug.state = m.text; $('state').textContent = m.text; }
  else if (m.name === 'transcript') {
    if (!partial) partial = line('you', '', 'partial');
    setText(partial, m.text);
    if (m.final) { partial.classList.remove('partial'); partial = null; }
  } else if (m.name === 'reply') {
    if (m.final) { if (reply) setText(reply, m.text); else line('ada', m.text); reply = null; }
    else { if (!reply) reply = line('ada', ''); setText(reply, reply.lastChild.textContent + m.text); }
  } else if (m.name === 'reply_error') { line('ada', m.text, 'error'); reply = null; }
  else if (m.name === 'barge_in') { debug.bargeIns = (debug.bargeIns || 0) + 1; }
}

// -- the socket -------------------------------------------------------------------------------
let socket = null;
function connect(persona) {
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => socket.send(JSON.stringify({ type: 'start', persona }));
  socket.onclose = () => { $('state').textContent = 'disconnected'; debug.closed = true; };
  socket.onmessage = (e) => {
    if (typeof e.data === 'string') {
      const m = JSON.parse(e.data);
      if (m.now !== undefined && audio) noteNow(m.now);
      if (m.type === 'ready') {
        fps = m.fps; sampleRate = m.sample_rate; debug.ready = true; debug.session = m.session;
        JAW = m.blendshapes.indexOf('jawOpen');
        $('state').textContent = 'listening';
      } else if (m.type === 'stream') {
        const s = stream(m.utterance);
        Object.assign(s, { start: m.time, fps: m.fps, idle: !!m.idle, text: m.text || '' });
        if (!m.idle) debug.lines++;
        const names = m.blendshapes;
        if (names) JAW = names.indexOf('jawOpen');
      } else if (m.type === 'event') onEvent(m);
      else if (m.type === 'end') {
        const s = stream(m.utterance);
        s.ended = true;
        debug.ends.push({ utterance: m.utterance, status: m.status, time: m.time, idle: s.idle });
        if (m.status !== 'done') cut(m.utterance, m.time);
      } else if (m.type === 'error') { debug.errors.push(m.text); line('ada', m.text, 'error'); }
      return;
    }
    const view = new DataView(e.data);
    const n = view.getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(e.data, 4, n)));
    noteNow(header.now);
    const body = new Uint8Array(e.data, 4 + n);
    if (header.type === 'audio') playAudio(header, body.slice());
    else if (header.type === 'frames') storeFrames(header, body.slice());
  };
}

// -- the microphone ---------------------------------------------------------------------------
let micOn = false, micNode = null, micStream = null;
async function startMic() {
  micStream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  await audio.audioWorklet.addModule('/static/mic-worklet.js');
  const source = audio.createMediaStreamSource(micStream);
  micNode = new AudioWorkletNode(audio, 'mic-pieces');
  micNode.port.onmessage = ({ data }) => {
    $('level').firstChild.style.width = `${Math.min(100, data.peak * 140)}%`;
    if (micOn && socket && socket.readyState === 1) { socket.send(data.pcm); debug.micPieces = (debug.micPieces || 0) + 1; }
  };
  source.connect(micNode);       // not to the speakers: the worklet only reads
  micOn = true;
  $('mic').textContent = 'Mic on'; $('mic').classList.remove('off');
}
$('mic').onclick = async () => {
  if (!micNode) { try { await startMic(); } catch (e) { line('ada', `No microphone: ${e.message}`, 'error'); } return; }
  micOn = !micOn;
  $('mic').textContent = micOn ? 'Mic on' : 'Mic off';
  $('mic').classList.toggle('off', !micOn);
};

$('say').onsubmit = (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text || !socket) return;
  socket.send(JSON.stringify({ type: 'text', text }));
  $('text').value = '';
};
$('stop').onclick = () => socket && socket.send(JSON.stringify({ type: 'interrupt' }));

$('begin').onclick = async () => {
  const persona = $('persona').value.trim() || undefined;
  $('start').remove();
  audio = new AudioContext({ latencyHint: 'interactive' });
  output = audio.createAnalyser();
  output.fftSize = 1024;
  output.connect(audio.destination);
  await audio.resume();
  connect(persona);
  try { await loadFace(); } catch (e) { debug.errors.push(`face: ${e}`); }
  try {
    await startMic();
    if (new URLSearchParams(location.search).get('mic') === 'off') $('mic').click();   // ?mic=off: start muted
  } catch (e) { line('ada', `No microphone (${e.message}); type instead.`, 'error'); }
};
requestAnimationFrame(draw);
