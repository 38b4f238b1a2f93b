// StarGAN v2 web front end: plain JavaScript, no build step, served by stargan-server at "/".
// The API base defaults to this page's server; "?api=http://host:port" points it elsewhere
// (the server then needs --cors-origin set to this page's origin).
'use strict';

const api = (new URLSearchParams(location.search).get('api') || '').replace(/\/$/, '');
const $ = (id) => document.getElementById(id);
const state = { models: [], photo: null, photoBitmap: null, recent: [], kept: [] };

const MESSAGES = {
  400: 'Some of the settings were not accepted',
  401: 'This server needs an API key',
  404: 'The server does not know that model',
  413: 'The photo is too large for this server',
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
    const res = await fetch(`${api}/v1/models`);
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
function drawFitted(canvas, bitmap, fit) {
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!bitmap) return;
  const { width: w, height: h } = bitmap;
  if (fit === 'stretch') {
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  } else { // crop (the server aligns faces itself; show the centre square meanwhile)
    const side = Math.min(w, h);
    ctx.drawImage(bitmap, Math.floor((w - side) / 2), Math.floor((h - side) / 2), side, side,
      0, 0, canvas.width, canvas.height);
  }
}

function redraw() {
  drawFitted($('preview'), state.photoBitmap, $('fit').value);
  drawFitted($('source-view'), state.photoBitmap, $('fit').value);
}

async function setPhoto(file) {
  showError('');
  state.photo = file || null;
  state.photoBitmap = null;
  if (file) {
    try {
      state.photoBitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (_) {
      showError('That file is not a photo this page can show (choose a PNG or JPEG).');
    }
  }
  redraw();
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
  busy(true);
  try {
    const res = await fetch(`${api}/v1/translate`, { method: 'POST', body: fd });
    if (!res.ok) throw new Error(await apiError(res));
    const blob = await res.blob();
    const entry = {
      url: URL.createObjectURL(blob), model: fd.get('model'), domain: fd.get('domain'),
      seed: fd.get('seed'), psi: fd.get('psi'), style: extra && extra.style,
      reference: fd.get('reference'), label,
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

function showResult(e) {
  const img = $('result');
  img.src = e.url;
  img.hidden = false;
  $('result-caption').textContent = describe(e);
  const a = $('download');
  a.href = e.url;
  a.download = `stargan-${e.domain}${e.seed ? '-seed' + e.seed : ''}.png`;
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
  const res = await fetch(`${api}/v1/style`, { method: 'POST', body: fd });
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
  img.alt = describe(e);
  const cap = document.createElement('div');
  cap.textContent = describe(e);
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
  dl.download = `stargan-${e.domain}${e.seed ? '-seed' + e.seed : ''}.png`;
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

// ---- wiring -----------------------------------------------------------------------------
function init() {
  setupDrop();
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
