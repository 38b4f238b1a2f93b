// StarGAN v2 web front end: plain JavaScript, no build step, served by stargan-server at "/".
// The API base defaults to this page's server; "?api=http://host:port" points it elsewhere
// (the server then needs --cors-origin set to this page's origin).
'use strict';

const api = (new URLSearchParams(location.search).get('api') || '').replace(/\/$/, '');
const $ = (id) => document.getElementById(id);
const state = { models: [], photo: null, photoBitmap: null, recent: [], kept: [], gridUrl: null, videoUrl: null,
  viewUrl: null, faces: [], detectSeq: 0, noDetector: false };
// What /v1/translate gets of the photo: the whole photo (no field), one face (`face=N`, N its index
// in /v1/detect's answer) or a square (`crop=x,y,w,h`, in the pixels of the photo as displayed).
const region = { kind: 'whole', face: -1, crop: null }; // crop: {x, y, s}, floats until sent
const KEY = 'stargan-api-key';

const MESSAGES = {
  400: 'Some of the settings were not accepted',
  401: 'This server needs an API key',
  404: 'The server does not know that model',
  413: 'That is more than this server accepts',
  415: 'That file is not a PNG or JPEG photo',
  422: 'The photo could not be read (is the file damaged?)',
  503: 'The server is busy right now; please try again in a moment',
};

function showError(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
}

async function apiError(res) {
  let detail = '';
  try { detail = (await res.json()).error.message || ''; } catch (_) { /* not JSON */ }
  const base = MESSAGES[res.status] || `The server answered with an error (${res.status})`;
  return detail ? `${base}: ${detail}` : `${base}.`;
}

// ---- API key: asked for when the server answers 401, kept in sessionStorage ------------------
function apiKey() {
  try { return sessionStorage.getItem(KEY) || ''; } catch (_) { return ''; }
}

function askForKey(rejected) {
  $('key-form').hidden = false;
  const e = $('key-error');
  e.textContent = rejected ? 'That key was not accepted.' : '';
  e.hidden = !rejected;
  $('api-key').focus();
}

// fetch with the API key (when one was given); a 401 brings up the key field
async function apiFetch(path, opts = {}) {
  const key = apiKey();
  const headers = { ...(opts.headers || {}) };
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(`${api}${path}`, { ...opts, headers });
  if (res.status === 401) askForKey(Boolean(key));
  return res;
}

function setupKey() {
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('api-key').value.trim();
    if (!v) return;
    try { sessionStorage.setItem(KEY, v); } catch (_) { /* private mode: not kept */ }
    $('api-key').value = '';
    $('key-form').hidden = true;
    showError('');
    loadModels();
  });
}

// ---- models and domains -------------------------------------------------------------------
function domainNames(m) {
  return (m.domains || []).map((d) => (typeof d === 'string' ? d : d.name));
}

function fillDomains() {
  const m = state.models.find((x) => x.name === $('model').value) || state.models[0];
  const sel = $('domain');
  sel.replaceChildren(...domainNames(m || {}).map((d) => new Option(d, d)));
  const align = $('fit').querySelector('option[value=align]');
  align.disabled = !(m && (m.fits || []).includes('align'));
  $('demo-banner').hidden = !(m && m.demo);
}

async function loadModels() {
  try {
    const res = await apiFetch('/v1/models');
    if (res.status === 401) return showError('Enter this server\'s API key above to use it.');
    if (!res.ok) throw new Error(await apiError(res));
    const data = await res.json();
    state.models = Array.isArray(data) ? data : data.models || [];
    $('model').replaceChildren(...state.models.map((m) => new Option(m.name, m.name)));
    fillDomains();
  } catch (err) {
    showError(`Could not reach the server: ${err.message}`);
  }
}

// ---- the photo and its preview ------------------------------------------------------------
function drawFitted(canvas, bitmap, fit, square) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!bitmap) return;
  const { width: w, height: h } = bitmap;
  if (square) { // a face or the crop box: that square of the photo
    ctx.drawImage(bitmap, square.x, square.y, square.s, square.s, 0, 0, canvas.width, canvas.height);
  } else if (fit === 'stretch') {
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  } else { // crop (the server aligns faces itself; show the centre square meanwhile)
    const side = Math.min(w, h);
    ctx.drawImage(bitmap, Math.floor((w - side) / 2), Math.floor((h - side) / 2), side, side,
      0, 0, canvas.width, canvas.height);
  }
}

// The square of the photo the model will see for a face or a crop (for a face, a square around
// its box: the server frames it itself, so this is an approximation); null for the whole photo.
function regionSquare() {
  const { w, h } = photoSize();
  if (region.kind === 'crop' && region.crop) return region.crop;
  const f = region.kind === 'face' && state.faces[region.face];
  if (!f || !w) return null;
  const [bx, by, bw, bh] = f.box;
  const s = Math.min(Math.max(bw, bh), w, h);
  return { x: clamp(bx + bw / 2 - s / 2, 0, w - s), y: clamp(by + bh / 2 - s / 2, 0, h - s), s };
}

function redraw() {
  const sq = regionSquare();
  drawFitted($('preview'), state.photoBitmap, $('fit').value, sq);
  drawFitted($('source-view'), state.photoBitmap, $('fit').value, sq);
}

let redrawQueued = false;
function redrawSoon() {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => { redrawQueued = false; redraw(); });
}

// The photo shown whole (EXIF orientation applied, as /v1/detect's pixels), with the faces over it.
async function showPhoto(file) {
  const img = $('photo-view');
  if (state.viewUrl) URL.revokeObjectURL(state.viewUrl);
  state.viewUrl = file ? URL.createObjectURL(file) : null;
  if (!file) {
    img.removeAttribute('src');
    $('photo-area').hidden = true;
    return false;
  }
  img.src = state.viewUrl;
  try {
    await img.decode();
  } catch (_) {
    $('photo-area').hidden = true;
    return false;
  }
  $('photo-area').hidden = false;
  return true;
}

async function setPhoto(file) {
  showError('');
  state.photo = file || null;
  state.photoBitmap = null;
  state.faces = [];
  const seq = ++state.detectSeq; // a later photo wins over this one's pending steps
  drawFaces();
  setFacesStatus('');
  setRegion('whole');
  let bitmap = null;
  if (file) {
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (_) {
      if (seq === state.detectSeq) showError('That file is not a photo this page can show (choose a PNG or JPEG).');
    }
  }
  if (seq !== state.detectSeq) return;
  state.photoBitmap = bitmap;
  redraw();
  const shown = bitmap ? await showPhoto(file) : await showPhoto(null);
  if (shown && seq === state.detectSeq) findFaces(file);
}

// ---- faces (/v1/detect) and the square crop box ---------------------------------------------
function clamp(v, lo, hi) {
  return Math.min(Math.max(v, lo), hi);
}

// the photo's size as displayed: EXIF orientation applied, as the API counts its pixels
function photoSize() {
  const img = $('photo-view');
  return { w: img.naturalWidth || 0, h: img.naturalHeight || 0 };
}

function setFacesStatus(text) {
  $('faces-status').textContent = text;
}

async function findFaces(file) {
  const seq = state.detectSeq;
  setFacesStatus('Looking for faces…');
  // the photo as the raw body when its type is one the API takes so, else as a form field
  let body = file, headers = { 'Content-Type': file.type };
  if (!/^image\/(jpeg|png)$/.test(file.type)) {
    body = new FormData();
    body.append('image', file);
    headers = {};
  }
  const square = 'translate the whole photo, or place a square over the part to translate.';
  if (state.noDetector) return setFacesStatus(`This server has no face detector: ${square}`);
  try {
    const res = await apiFetch('/v1/detect', { method: 'POST', body, headers });
    if (seq !== state.detectSeq) return; // another photo since
    if (res.status === 501) { // asked once per page load
      state.noDetector = true;
      return setFacesStatus(`This server has no face detector: ${square}`);
    }
    if (!res.ok) return setFacesStatus(`Faces could not be looked for (${(await apiError(res)).replace(/\.$/, '')}): ${square}`);
    const d = await res.json();
    if (seq !== state.detectSeq) return;
    state.faces = (d.faces || []).map((f) => ({ ...f, W: d.width, H: d.height }));
    drawFaces();
    const n = state.faces.length;
    setFacesStatus(n ? `${n} face${n > 1 ? 's' : ''} found: choose one to translate only that face, or place a square.`
      : `No face found: ${square}`);
  } catch (err) {
    if (seq === state.detectSeq) setFacesStatus(`Faces could not be looked for (${err.message}): ${square}`);
  }
}

// A button per face, placed in percentages of the photo's pixels (the detector's width and height).
function drawFaces() {
  const boxes = state.faces.map((f, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'face-box';
    b.dataset.face = String(i);
    const [x, y, w, h] = f.box;
    Object.assign(b.style, {
      left: `${(100 * x) / f.W}%`, top: `${(100 * y) / f.H}%`, width: `${(100 * w) / f.W}%`, height: `${(100 * h) / f.H}%`,
    });
    b.setAttribute('aria-label', `Face ${i + 1} of ${state.faces.length} (score ${f.score.toFixed(2)})`);
    b.title = `Translate face ${i + 1}`;
    b.setAttribute('aria-pressed', 'false');
    b.addEventListener('click', () => setRegion('face', i));
    return b;
  });
  $('faces').replaceChildren(...boxes);
  const radio = document.querySelector('input[name=region][value=face]');
  radio.disabled = boxes.length === 0;
}

// kind: whole | face (face: its index) | crop. A face clears the crop and the crop a face.
function setRegion(kind, face) {
  if (kind === 'face' && !state.faces[face]) face = 0;
  if (kind === 'face' && !state.faces.length) kind = 'whole';
  region.kind = kind;
  region.face = kind === 'face' ? face : -1;
  if (kind !== 'crop') region.crop = null;
  else if (!region.crop) {
    const { w, h } = photoSize();
    const s = Math.round(Math.min(w, h) * 0.6);
    region.crop = { x: (w - s) / 2, y: (h - s) / 2, s };
  }
  document.querySelector(`input[name=region][value=${kind}]`).checked = true;
  $('faces').querySelectorAll('[data-face]').forEach((b) => {
    const on = Number(b.dataset.face) === region.face;
    b.classList.toggle('chosen', on);
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
  });
  placeCrop();
  redraw();
}

// the crop as sent: integers inside the photo, a square
function cropField() {
  const { w, h } = photoSize();
  const c = region.crop;
  const s = Math.min(Math.round(c.s), w, h);
  const x = clamp(Math.round(c.x), 0, w - s), y = clamp(Math.round(c.y), 0, h - s);
  return `${x},${y},${s},${s}`;
}

function placeCrop() {
  const box = $('crop-box');
  const c = region.crop;
  box.hidden = !c;
  $('crop-info').hidden = !c;
  if (!c) {
    delete box.dataset.crop;
    return;
  }
  const { w, h } = photoSize();
  Object.assign(box.style, {
    left: `${(100 * c.x) / w}%`, top: `${(100 * c.y) / h}%`, width: `${(100 * c.s) / w}%`, height: `${(100 * c.s) / h}%`,
  });
  const f = cropField();
  box.dataset.crop = f;
  const [x, y, s] = f.split(',');
  $('crop-out').textContent = `${s} × ${s} px at (${x}, ${y})`;
}

// Moves (or, keepCorner, resizes from the top-left corner) the crop, kept a square inside the photo.
function setCrop(x, y, s, keepCorner) {
  const { w, h } = photoSize();
  const most = Math.min(w, h);
  const least = Math.min(most, Math.max(16, most / 20));
  s = clamp(s, least, most);
  if (keepCorner) s = Math.max(least, Math.min(s, w - x, h - y));
  region.crop = { x: clamp(x, 0, w - s), y: clamp(y, 0, h - s), s };
  placeCrop();
  redrawSoon();
}

// Pointer Events (mouse, pen and touch alike): drag the box to move it, its corner to resize it.
function setupCrop() {
  const box = $('crop-box');
  let drag = null;
  box.addEventListener('pointerdown', (e) => {
    if (!region.crop || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    box.focus({ preventScroll: true });
    box.setPointerCapture(e.pointerId);
    const k = photoSize().w / $('photo-view').getBoundingClientRect().width; // photo px per CSS px
    drag = { id: e.pointerId, resize: e.target === $('crop-handle'), x0: e.clientX, y0: e.clientY, start: { ...region.crop }, k };
  });
  box.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    const dx = (e.clientX - drag.x0) * drag.k, dy = (e.clientY - drag.y0) * drag.k;
    const c = drag.start;
    if (drag.resize) setCrop(c.x, c.y, c.s + (Math.abs(dx) > Math.abs(dy) ? dx : dy), true);
    else setCrop(c.x + dx, c.y + dy, c.s);
  });
  const end = (e) => {
    if (drag && e.pointerId === drag.id) drag = null;
  };
  box.addEventListener('pointerup', end);
  box.addEventListener('pointercancel', end);
  box.addEventListener('lostpointercapture', end);
  // keyboard: arrows move it (Shift: farther), + and - resize it about its centre
  box.addEventListener('keydown', (e) => {
    const c = region.crop;
    if (!c) return;
    const { w, h } = photoSize();
    const step = Math.max(1, Math.round(Math.min(w, h) / 50)) * (e.shiftKey ? 5 : 1);
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) setCrop(c.x + moves[e.key][0], c.y + moves[e.key][1], c.s);
    else if (e.key === '+' || e.key === '=') setCrop(c.x - step / 2, c.y - step / 2, c.s + step);
    else if (e.key === '-' || e.key === '−') setCrop(c.x + step / 2, c.y + step / 2, c.s - step);
    else return;
    e.preventDefault();
  });
  document.querySelectorAll('input[name=region]').forEach((r) => r.addEventListener('change', () => {
    if (r.checked) setRegion(r.value, 0);
  }));
}

// The region's fields for /v1/translate (none for the whole photo), and paste=true when ticked.
function regionFields(fd) {
  if (region.kind === 'face') fd.append('face', String(region.face));
  else if (region.kind === 'crop' && region.crop) fd.append('crop', cropField());
  if ($('paste').checked) fd.append('paste', 'true');
}

function setupDrop() {
  const drop = $('drop');
  ['dragenter', 'dragover'].forEach((ev) => drop.addEventListener(ev, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  }));
  ['dragleave', 'drop'].forEach((ev) => drop.addEventListener(ev, () => drop.classList.remove('over')));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer.files[0];
    if (f) {
      const dt = new DataTransfer();
      dt.items.add(f);
      $('image').files = dt.files;
      setPhoto(f);
    }
  });
  $('image').addEventListener('change', () => setPhoto($('image').files[0]));
  if ('mediaDevices' in navigator && /Mobi|Android|iPhone|iPad/.test(navigator.userAgent)) {
    $('camera-wrap').hidden = false;
    $('camera').addEventListener('change', () => {
      const f = $('camera').files[0];
      if (!f) return;
      const dt = new DataTransfer();
      dt.items.add(f);
      $('image').files = dt.files;
      setPhoto(f);
    });
  }
}

// ---- requests -----------------------------------------------------------------------------
function randomSeed() {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0] & 0x7fffffff;
}

function mode() {
  return document.querySelector('input[name=mode]:checked').value;
}

// The fields shared by /v1/translate and /v1/style; `extra` overrides the style source.
function styleFields(extra) {
  const fd = new FormData();
  fd.append('model', $('model').value);
  fd.append('domain', $('domain').value);
  fd.append('fit', $('fit').value);
  if (extra && extra.style) {
    fd.append('style', JSON.stringify(extra.style));
  } else if (extra && extra.seed !== undefined) {
    fd.append('seed', String(extra.seed));
    fd.append('psi', String(extra.psi));
  } else if (mode() === 'reference') {
    fd.append('reference', $('reference').files[0]);
  } else {
    if ($('seed').value === '') $('seed').value = randomSeed();
    fd.append('seed', $('seed').value);
    fd.append('psi', $('psi').value);
  }
  return fd;
}

function busy(on) {
  $('progress').hidden = !on;
  $('submit').disabled = on;
  $('mix-go').disabled = on;
  $('all-domains').disabled = on;
  $('video-go').disabled = on;
  $('mix-video').disabled = on;
  document.body.setAttribute('aria-busy', on ? 'true' : 'false');
}

async function translate(extra, label) {
  showError('');
  if (!state.photo) return showError('Choose a photo first.');
  if (!extra && mode() === 'reference' && !$('reference').files[0]) {
    return showError('Choose a reference photo, or pick "Random style".');
  }
  const fd = styleFields(extra);
  fd.append('image', state.photo);
  fd.append('format', 'png');
  regionFields(fd);
  busy(true);
  try {
    const res = await apiFetch('/v1/translate', { method: 'POST', body: fd });
    if (!res.ok) throw new Error(await apiError(res));
    const blob = await res.blob();
    const entry = {
      url: URL.createObjectURL(blob), model: fd.get('model'), domain: fd.get('domain'),
      seed: fd.get('seed'), psi: fd.get('psi'), style: extra && extra.style,
      reference: fd.get('reference'), label, face: fd.get('face'), crop: fd.get('crop'), pasted: fd.has('paste'),
    };
    showResult(entry);
    addRecent(entry);
  } catch (err) {
    showError(err.message || String(err));
  } finally {
    busy(false);
  }
}

function describe(e) {
  if (e.label) return e.label;
  if (e.seed !== null && e.seed !== undefined) return `${e.domain} · seed ${e.seed} · ψ ${Number(e.psi).toFixed(2)}`;
  return `${e.domain} · reference style`;
}

// what of the photo a result is: a face, a square, pasted back
function whereOf(e) {
  let s = '';
  if (e.face !== null && e.face !== undefined) s += ` · face ${Number(e.face) + 1}`;
  if (e.crop) {
    const [x, y, side] = e.crop.split(',');
    s += ` · square of ${side} px at (${x}, ${y})`;
  }
  if (e.pasted) s += ' · pasted into the photo';
  return s;
}

function fileName(e) {
  return `stargan-${e.domain}${e.seed ? '-seed' + e.seed : ''}${e.pasted ? '-pasted' : ''}.png`;
}

function showResult(e) {
  const img = $('result');
  img.src = e.url;
  img.hidden = false;
  // pasted: the whole photo's size, scaled to fit the page; the download is the full-size image
  img.classList.toggle('pasted', Boolean(e.pasted));
  $('result-figure').classList.toggle('wide', Boolean(e.pasted));
  $('result-caption').textContent = describe(e) + whereOf(e);
  const a = $('download');
  a.href = e.url;
  a.download = fileName(e);
  a.textContent = e.pasted ? 'Download this result (full size)' : 'Download this result';
  a.hidden = false;
}

// ---- recent results, kept styles and blending ------------------------------------------------
async function styleOf(e) {
  if (e.style) return e.style;
  const fd = new FormData();
  fd.append('model', e.model);
  fd.append('domain', e.domain);
  if (e.reference) fd.append('reference', e.reference);
  else { fd.append('seed', e.seed); fd.append('psi', e.psi); }
  const res = await apiFetch('/v1/style', { method: 'POST', body: fd });
  if (!res.ok) throw new Error(await apiError(res));
  return (await res.json()).style;
}

async function toggleKeep(e, li) {
  const i = state.kept.indexOf(e);
  if (i >= 0) {
    state.kept.splice(i, 1);
    li.classList.remove('kept');
  } else {
    try {
      e.style = await styleOf(e);
    } catch (err) {
      return showError(err.message);
    }
    if (state.kept.length === 2) state.kept.shift().li.classList.remove('kept');
    e.li = li;
    state.kept.push(e);
    li.classList.add('kept');
  }
  $('mix').hidden = state.kept.length !== 2;
}

function addRecent(e) {
  const li = document.createElement('li');
  const img = new Image();
  img.src = e.url;
  img.alt = describe(e) + whereOf(e);
  const cap = document.createElement('div');
  cap.className = 'caption';
  cap.textContent = describe(e) + whereOf(e);
  const actions = document.createElement('div');
  actions.className = 'actions';
  const view = document.createElement('button');
  view.type = 'button';
  view.textContent = 'Show';
  view.addEventListener('click', () => showResult(e));
  const keep = document.createElement('button');
  keep.type = 'button';
  keep.textContent = 'Keep style';
  keep.addEventListener('click', () => toggleKeep(e, li));
  const dl = document.createElement('a');
  dl.href = e.url;
  dl.download = fileName(e);
  dl.textContent = 'Download';
  dl.className = 'button-like';
  actions.append(view, keep, dl);
  li.append(img, cap, actions);
  $('recent').prepend(li);
  state.recent.unshift(e);
  while (state.recent.length > 12) {
    const old = state.recent.pop();
    if (!state.kept.includes(old)) URL.revokeObjectURL(old.url);
    $('recent').lastElementChild.remove();
  }
}

function blend() {
  const t = Number($('mix-t').value);
  const [a, b] = state.kept;
  const style = a.style.map((v, i) => (1 - t) * v + t * b.style[i]);
  translate({ style }, `blend ${t.toFixed(2)} of two kept styles`);
}

// ---- all domains at once (/v1/grid: one photo x every domain, one seed) -------------------------
async function allDomains() {
  showError('');
  if (!state.photo) return showError('Choose a photo first.');
  if ($('seed').value === '') $('seed').value = randomSeed();
  const fd = new FormData();
  fd.append('image', state.photo);
  fd.append('model', $('model').value);
  fd.append('fit', $('fit').value);
  fd.append('seed', $('seed').value);
  fd.append('psi', $('psi').value);
  fd.append('header', 'false');
  fd.append('format', 'png');
  busy(true);
  try {
    const res = await apiFetch('/v1/grid', { method: 'POST', body: fd });
    if (!res.ok) throw new Error(await apiError(res));
    const cols = (res.headers.get('X-Grid-Columns') || '').split(',').map((c) => c.trim().split(';')[0]);
    if (state.gridUrl) URL.revokeObjectURL(state.gridUrl);
    state.gridUrl = URL.createObjectURL(await res.blob());
    $('grid').src = state.gridUrl;
    $('grid-caption').textContent = `${cols.join(' · ')} (seed ${fd.get('seed')}, ψ ${Number(fd.get('psi')).toFixed(2)})`;
    const a = $('grid-download');
    a.href = state.gridUrl;
    a.download = `stargan-all-domains-seed${fd.get('seed')}.png`;
    $('grid-out').hidden = false;
  } catch (err) {
    showError(err.message || String(err));
  } finally {
    busy(false);
  }
}

// ---- a video through seeds (/v1/interpolate) --------------------------------------------------
function videoFormat() {
  return $('vformat').value;
}

// The progress bar of a video job: done of total steps (a photo, the styles, then the frames).
function setVideoProgress(done, total) {
  const bar = $('video-bar');
  bar.max = total || 1;
  bar.value = done;
  $('video-progress-text').textContent = total ? `Rendering: step ${done} of ${total}` : 'Queued…';
}

// A long request as a job (Prefer: respond-async): polled until it ends, then its result, which
// is the answer the request would have given. onProgress(done, total) as it runs.
async function runJob(path, fd, onProgress) {
  const res = await apiFetch(path, { method: 'POST', body: fd, headers: { Prefer: 'respond-async' } });
  if (res.status !== 202) return res; // refused at once (400, 413, 503, ...): the answer itself
  let job = await res.json();
  const url = `/v1/jobs/${job.id}`;
  while (job.state === 'queued' || job.state === 'running') {
    onProgress(job.progress.done, job.progress.total);
    await new Promise((r) => setTimeout(r, 400));
    const st = await apiFetch(url);
    if (!st.ok) return st;
    job = await st.json();
  }
  onProgress(job.progress.done, job.progress.total);
  return apiFetch(`${url}/result`);
}

function showVideoError(text) {
  showError(text);
  $('video-progress').hidden = true;
}

// styles: waypoints as style codes (the two kept styles), else the seeds typed in
async function makeVideo(styles) {
  showError('');
  if (!state.photo) return showVideoError('Choose a photo first.');
  let seeds = [];
  if (!styles) {
    if (!$('waypoints').value.trim()) $('waypoints').value = [randomSeed(), randomSeed()].join(', ');
    seeds = $('waypoints').value.split(/[\s,]+/).filter(Boolean);
    if (seeds.length < 2 || seeds.some((x) => !/^\d+$/.test(x))) {
      return showVideoError('Give two or more seeds (whole numbers), separated by commas.');
    }
  }
  const fd = new FormData();
  fd.append('image', state.photo);
  fd.append('model', $('model').value);
  fd.append('domain', $('domain').value);
  fd.append('fit', $('fit').value);
  if (styles) styles.forEach((st) => fd.append('style', JSON.stringify(st)));
  else {
    seeds.forEach((x) => fd.append('seed', x));
    fd.append('psi', $('psi').value);
  }
  fd.append('frames', $('frames').value || '24');
  fd.append('format', videoFormat());
  busy(true);
  setVideoProgress(0, 0);
  $('video-progress').hidden = false;
  try {
    const res = await runJob('/v1/interpolate', fd, setVideoProgress);
    const type = res.headers.get('Content-Type') || '';
    if (state.videoUrl) URL.revokeObjectURL(state.videoUrl);
    state.videoUrl = URL.createObjectURL(await res.blob());
    const isWebp = type.startsWith('image/webp');
    $('video').hidden = isWebp;
    $('video-webp').hidden = !isWebp;
    if (isWebp) $('video-webp').src = state.videoUrl;
    else { $('video').src = state.videoUrl; $('video').play().catch(() => { /* autoplay refused: controls remain */ }); }
    const through = styles ? 'the two kept styles' : `seeds ${seeds.join(' → ')}`;
    $('video-caption').textContent = `${fd.get('domain')} · ${through} · ${res.headers.get('X-Frames')} frames at ${res.headers.get('X-Fps')} fps`;
    const a = $('video-download');
    a.href = state.videoUrl;
    a.download = `stargan-${fd.get('domain')}-${styles ? 'kept-styles' : 'seeds-' + seeds.join('-')}.${isWebp ? 'webp' : 'mp4'}`;
    $('video-out').hidden = false;
  } catch (err) {
    showError(err.message || String(err));
  } finally {
    busy(false);
    $('video-progress').hidden = true;
  }
}

// ---- wiring -----------------------------------------------------------------------------
function init() {
  setupDrop();
  setupKey();
  setupCrop();
  // browsers without H.264 get the animated WebP by default
  if (!document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"')) $('vformat').value = 'webp';
  $('all-domains').addEventListener('click', allDomains);
  $('video-go').addEventListener('click', () => makeVideo());
  $('mix-video').addEventListener('click', () => {
    makeVideo(state.kept.map((k) => k.style));
    $('h-video').scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
  $('waypoints-random').addEventListener('click', () => {
    $('waypoints').value = [randomSeed(), randomSeed(), randomSeed()].join(', ');
  });
  $('model').addEventListener('change', fillDomains);
  $('fit').addEventListener('change', redraw);
  $('psi').addEventListener('input', () => { $('psi-out').textContent = Number($('psi').value).toFixed(2); });
  $('mix-t').addEventListener('input', () => { $('mix-out').textContent = Number($('mix-t').value).toFixed(2); });
  document.querySelectorAll('input[name=mode]').forEach((r) => r.addEventListener('change', () => {
    $('seed-controls').hidden = mode() !== 'seed';
    $('ref-controls').hidden = mode() !== 'reference';
  }));
  $('another').addEventListener('click', () => {
    $('seed').value = randomSeed();
    translate();
  });
  $('mix-go').addEventListener('click', blend);
  $('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    translate();
  });
  loadModels();
}

init();
