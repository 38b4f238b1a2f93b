// Browser tests of the front end: the real daemon on loopback with the demo model, the page in
// headless Debian Chromium driven by playwright-core (no browser download).
// usage: node web_test.mjs SERVER_BIN FIXTURES OUT_DIR      (prints "N passed, N failed")
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const [serverBin, fixtures, outDir] = process.argv.slice(2);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const webDir = join(repo, 'web');
// the face detector (scripts/get-detector.sh); without it the face-box checks report themselves skipped
// the converted detector, else the package's TensorFlow.js manifest (scripts/get-detector.sh --package)
const converted = join(repo, 'models', 'detector.safetensors');
const detector = existsSync(converted) ? converted
  : join(repo, 'models', 'face-api', 'model', 'ssd_mobilenetv1_model-weights_manifest.json');
const hasDetector = existsSync(detector);
// SG_WEB_ONLY=faces runs only the face / crop / paste flows (while working on them)
const only = process.env.SG_WEB_ONLY || '';
mkdirSync(outDir, { recursive: true });
let passed = 0, failed = 0, skipped = 0;
const check = (name, ok, detail = '') => {
  if (ok) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name} ${detail}`); }
};
const skip = (name, why) => { skipped++; console.log(`SKIP ${name}: ${why}`); };
// Chromium logs a failed request as a console error: without a detector, the page's one
// /v1/detect per page load answers 501 by design
const noDetector501 = (m) => !hasDetector && /\/v1\/detect$/.test(m.location().url || '') && / 501 /.test(m.text());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// under a sanitizer (scripts/sanitize.sh) the server runs several times slower: waits scale
const slow = process.env.SG_SANITIZER ? 3 : 1;

// a free loopback port: bind to 0, read it, close
async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitReady(base, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { if ((await fetch(`${base}/readyz`)).ok) return true; } catch (_) { /* not yet */ }
    await sleep(200);
  }
  return false;
}

// another origin serving the same static files, to check the page against --cors-origin
function staticServer(port) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
  const srv = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = path === '/' ? 'index.html' : path.slice(1);
    try {
      const body = readFileSync(join(webDir, file.replace(/\.\./g, '')));
      res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' });
      res.end(body);
    } catch (_) { res.writeHead(404); res.end(); }
  });
  return new Promise((r) => srv.listen(port, '127.0.0.1', () => r(srv)));
}

async function translateFlow(page, url, name) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error' && !noDetector501(m)) errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/interpolate') && r.headers().prefer === 'respond-async') jobPosts++;
  });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 * slow });
  await page.setInputFiles('input[type=file][name=image]', join(fixtures, 'images/afhq/src/cat/flickr_cat_000253.jpg'));
  await page.selectOption('select[name=domain]', 'dog');
  await page.click('#submit');
  const ok = await page.waitForFunction(() => {
    const img = document.querySelector('img#result');
    return img && !img.hidden && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 60000 * slow }).then(() => true, () => false);
  check(`${name}: result image loads`, ok, await page.locator('#error').textContent());
  check(`${name}: no console errors`, errors.length === 0, errors.join(' | '));
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
  return errors;
}

// two random styles kept, then a blend of them through /v1/style and the `style` field
async function blendFlow(page, errors) {
  const results = () => page.locator('#recent li').count();
  const before = await results();
  await page.click('#another');
  await page.waitForFunction((n) => document.querySelectorAll('#recent li').length > n, before, { timeout: 60000 * slow });
  const keep = page.locator('#recent li button', { hasText: 'Keep style' });
  await keep.nth(0).click();
  await keep.nth(1).click();
  await page.waitForSelector('#mix:not([hidden])', { timeout: 20000 * slow });
  await page.click('#mix-go');
  const ok = await page.waitForFunction(() => /blend/.test(document.querySelector('#result-caption').textContent)
    && document.querySelector('img#result').complete, null, { timeout: 60000 * slow }).then(() => true, () => false);
  check('blend of two kept styles', ok, (await page.locator('#error').textContent()) + errors.join(' | '));
}

async function badFileFlow(page, url) {
  const bad = join(outDir, 'not-a-photo.jpg');
  writeFileSync(bad, 'this is not an image');
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 * slow });
  await page.setInputFiles('input[type=file][name=image]', bad);
  await page.click('#submit');
  const shown = await page.waitForFunction(() => {
    const e = document.querySelector('#error');
    return e && !e.hidden && e.textContent.length > 10;
  }, null, { timeout: 30000 * slow }).then(() => true, () => false);
  const text = await page.locator('#error').textContent();
  check('non-image file shows an error message', shown && /not a (PNG or JPEG )?photo|could not be read/i.test(text), text);
  await page.screenshot({ path: join(outDir, 'error.png'), fullPage: true });
}

// The recent-results strip: no two of its controls (images, buttons, links) overlap, each stays
// inside its card, cards do not overlap, and nothing sticks out of the viewport.
async function layoutCheck(page, width) {
  const r = await page.evaluate(() => {
    const box = (el) => { const b = el.getBoundingClientRect(); return { x: b.left, y: b.top, w: b.width, h: b.height, what: el.tagName + ':' + (el.textContent || el.alt || '').slice(0, 20) }; };
    const cards = [...document.querySelectorAll('#recent li')];
    return {
      vw: document.documentElement.clientWidth,
      cards: cards.map((li) => ({ box: box(li), controls: [...li.querySelectorAll('img, button, a, .caption')].map(box) })),
    };
  });
  const inter = (a, b) => a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5;
  const inside = (a, c) => a.x >= c.x - 0.5 && a.y >= c.y - 0.5 && a.x + a.w <= c.x + c.w + 0.5 && a.y + a.h <= c.y + c.h + 0.5;
  const problems = [];
  const all = r.cards.flatMap((c) => c.controls);
  for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) if (inter(all[i], all[j])) problems.push(`${all[i].what} overlaps ${all[j].what}`);
  r.cards.forEach((c, k) => c.controls.forEach((b) => { if (!inside(b, c.box)) problems.push(`${b.what} outside card ${k}`); }));
  for (let i = 0; i < r.cards.length; i++) for (let j = i + 1; j < r.cards.length; j++) if (inter(r.cards[i].box, r.cards[j].box)) problems.push(`cards ${i} and ${j} overlap`);
  all.forEach((b) => { if (b.x + b.w > r.vw + 0.5 || b.x < -0.5) problems.push(`${b.what} outside the ${r.vw}px viewport`); });
  check(`recent strip at ${width} px: ${r.cards.length} cards, ${all.length} controls, no overlaps`, r.cards.length >= 3 && problems.length === 0, problems.slice(0, 5).join('; '));
  await page.locator('#h-recent').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(outDir, `recent-${width}.png`), fullPage: true });
}

async function moreResults(page, n) {
  for (let i = 0; i < n; i++) {
    const before = await page.locator('#recent li').count();
    await page.click('#another');
    await page.waitForFunction((k) => document.querySelectorAll('#recent li').length > k, before, { timeout: 60000 * slow });
  }
}

// ---- faces (/v1/detect), the crop box and paste ------------------------------------------------
// A PNG of w x h grey pixels: the stand-in answer for translate calls the server does not take yet.
function crc32(buf) {
  let c = ~0;
  for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
  return ~c >>> 0;
}
function png(w, h) {
  const chunk = (type, data) => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4), crc = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h, 0x80);
  for (let y = 0; y < h; y++) raw[y * (w * 3 + 1)] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// the text fields of a multipart/form-data body (files as "(file)")
function formFields(buf) {
  const s = buf.toString('latin1');
  const out = {};
  const re = /Content-Disposition: form-data; name="([^"]+)"(; filename="[^"]*")?\r\n(?:[^\r\n]+\r\n)*\r\n/gi;
  let m;
  while ((m = re.exec(s))) {
    if (m[2]) { out[m[1]] = '(file)'; continue; }
    out[m[1]] = s.slice(re.lastIndex, s.indexOf('\r\n--', re.lastIndex));
  }
  return out;
}

// Which of translate's region fields this server takes: each tried once on the EXIF-rotated photo;
// a field is taken when the answer is 200. { field: true | 'STATUS code' }.
const REGION_FIELDS = { face: '0', crop: '100,100,200,200', paste: 'true' };
async function regionSupport(base) {
  const out = {};
  for (const [name, value] of Object.entries(REGION_FIELDS)) {
    const fd = new FormData();
    fd.append('image', new Blob([readFileSync(join(repo, 'tests', 'data', 'detect', 'exif6.jpg'))], { type: 'image/jpeg' }), 'exif6.jpg');
    fd.append('domain', 'dog');
    fd.append('seed', '1');
    fd.append(name, value);
    try {
      const res = await fetch(`${base}/v1/translate`, { method: 'POST', body: fd });
      const body = await res.text();
      out[name] = res.status === 200 || `${res.status} ${(/"code":"([^"]+)"/.exec(body) || [])[1] || ''}`;
    } catch (e) { out[name] = String(e); }
  }
  return out;
}

// Records every /v1/translate the page sends (its text fields: Chromium leaves the file's bytes out
// of what interception sees). A request whose region fields (face, crop, paste) the server takes
// goes to it unchanged; otherwise (a server without them yet) a PNG stands in for the answer: the
// photo's size for paste=true, else 256 x 256. Each record: { fields, served }.
async function watchTranslate(page, photoSize, support) {
  const seen = [];
  await page.route('**/v1/translate', async (route) => {
    const fields = formFields(route.request().postDataBuffer() || Buffer.alloc(0));
    const missing = Object.keys(REGION_FIELDS).filter((f) => f in fields && support[f] !== true);
    const rec = { fields, served: missing.length ? `stub (the server: ${missing.map((f) => `${f} ${support[f]}`).join(', ')})` : 'server' };
    seen.push(rec);
    if (!missing.length) return route.continue();
    const { w, h } = fields.paste === 'true' ? photoSize() : { w: 256, h: 256 };
    return route.fulfill({ status: 200, contentType: 'image/png', body: png(w, h) });
  });
  return seen;
}

// Submits and waits for the page's next translate request and its result in the page.
async function submitAndWait(page, seen) {
  const n = seen.length;
  const before = await page.locator('img#result').getAttribute('src');
  await page.click('#submit');
  const ok = await page.waitForFunction((prev) => {
    const img = document.querySelector('img#result');
    return !img.hidden && img.getAttribute('src') !== prev && img.complete && img.naturalWidth > 0;
  }, before, { timeout: 60000 * slow }).then(() => true, () => false);
  return { ok, rec: seen[n] || null, error: await page.locator('#error').textContent() };
}

// Where things are on screen: the photo, the stage, the face boxes, the crop box, and overflow.
function geometry(page) {
  return page.evaluate(() => {
    const r = (el) => { const b = el.getBoundingClientRect(); return { x: b.left, y: b.top, w: b.width, h: b.height }; };
    const img = document.querySelector('#photo-view');
    const crop = document.querySelector('#crop-box');
    return {
      img: r(img), stage: r(document.querySelector('#stage')), nw: img.naturalWidth, nh: img.naturalHeight,
      boxes: [...document.querySelectorAll('#faces [data-face]')].map((b) => ({
        n: Number(b.dataset.face), tag: b.tagName, pressed: b.getAttribute('aria-pressed'), chosen: b.classList.contains('chosen'), ...r(b),
      })),
      crop: crop.hidden ? null : { ...r(crop), value: crop.dataset.crop },
      handle: crop.hidden ? null : r(document.querySelector('#crop-handle')),
      vw: document.documentElement.clientWidth, sw: document.documentElement.scrollWidth,
    };
  });
}

async function loadPhoto(page, file) {
  await page.setInputFiles('input[type=file][name=image]', file);
  return page.waitForFunction(() => {
    const t = document.querySelector('#faces-status').textContent;
    return !document.querySelector('#photo-area').hidden && t && !/Looking/.test(t);
  }, null, { timeout: 30000 * slow }).then(() => true, () => false);
}

// The face boxes of a photo: as many as /v1/detect finds, each where the API's box lands on the
// photo as shown (within 2 px), the photo's natural size being the API's (EXIF applied).
async function checkBoxes(page, base, file, tag) {
  const api = await (await fetch(`${base}/v1/detect`, { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: readFileSync(file) })).json();
  const loaded = await loadPhoto(page, file);
  const g = await geometry(page);
  check(`${tag}: the photo shows with its faces' status`, loaded, await page.locator('#faces-status').textContent());
  check(`${tag}: the photo's natural size is the API's (EXIF orientation applied): ${g.nw}x${g.nh}`,
    g.nw === api.width && g.nh === api.height, `api ${api.width}x${api.height}`);
  check(`${tag}: ${g.boxes.length} face boxes for ${api.faces.length} faces`, api.faces.length > 0 && g.boxes.length === api.faces.length
    && g.boxes.every((b, i) => b.n === i && b.tag === 'BUTTON'));
  const k = g.img.w / api.width, kh = g.img.h / api.height;
  let worst = 0;
  api.faces.forEach((f, i) => {
    const b = g.boxes[i];
    if (!b) { worst = Infinity; return; }
    const want = [g.img.x + f.box[0] * k, g.img.y + f.box[1] * kh, f.box[2] * k, f.box[3] * kh];
    [b.x, b.y, b.w, b.h].forEach((v, j) => { worst = Math.max(worst, Math.abs(v - want[j])); });
  });
  check(`${tag}: each box is the API's box scaled to the photo on screen (worst ${worst.toFixed(2)} px of 2; scale ${k.toFixed(3)})`, worst <= 2);
  check(`${tag}: the stage is the photo's size, inside the viewport, no horizontal overflow`,
    Math.abs(g.stage.w - g.img.w) <= 1 && Math.abs(g.stage.h - g.img.h) <= 1 && g.img.x >= 0 && g.img.x + g.img.w <= g.vw + 0.5 && g.sw <= g.vw,
    JSON.stringify({ stage: g.stage, img: g.img, vw: g.vw, sw: g.sw }));
  return api;
}

// A drag from one point to another: touch through CDP (Chromium turns it into pointer events of
// pointerType "touch"), else the mouse.
async function drag(page, cdp, from, to, steps = 8) {
  const at = (i) => ({ x: from.x + ((to.x - from.x) * i) / steps, y: from.y + ((to.y - from.y) * i) / steps });
  if (cdp) {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: from.x, y: from.y, id: 1 }] });
    for (let i = 1; i <= steps; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ ...at(i), id: 1 }] });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  } else {
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    for (let i = 1; i <= steps; i++) await page.mouse.move(at(i).x, at(i).y);
    await page.mouse.up();
  }
}

const cropOf = (v) => (v || '').split(',').map(Number);

// The face, crop and paste controls at one viewport width: touch on the phone, mouse on the desktop.
async function facesFlow(browser, base, width, support) {
  const phone = width < 600;
  const ctx = await browser.newContext(phone ? { viewport: { width, height: 844 }, isMobile: true, hasTouch: true }
    : { viewport: { width, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error' && !noDetector501(m)) errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const photoSize = () => ({ w: size.w, h: size.h });
  let size = { w: 0, h: 0 };
  const seen = await watchTranslate(page, photoSize, support);
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 * slow });
  await page.evaluate(() => {
    window.pointerTypes = [];
    document.querySelector('#crop-box').addEventListener('pointerdown', (e) => window.pointerTypes.push(e.pointerType));
  });
  const exif6 = join(repo, 'tests', 'data', 'detect', 'exif6.jpg');
  const tag = `faces at ${width} px`;

  if (hasDetector) {
    if (!phone) { // a large photo scaled down, then one with no face
      await checkBoxes(page, base, join(repo, 'models', 'face-api', 'demo', 'sample1.jpg'), `${tag}, sample1.jpg`);
      await loadPhoto(page, join(repo, 'tests', 'data', 'detect', 'noface.jpg'));
      const t = await page.locator('#faces-status').textContent();
      check(`${tag}: a photo without faces says so and offers the square`, /No face found/.test(t) && /square/.test(t)
        && await page.locator('#faces [data-face]').count() === 0 && await page.locator('input[name=region][value=crop]').isEnabled(), t);
    }
    const api = await checkBoxes(page, base, exif6, `${tag}, exif6.jpg (EXIF-rotated)`);
    size = { w: api.width, h: api.height };
    await page.locator('#stage').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(outDir, `faces-${width}.png`), fullPage: true });
    // keyboard: the boxes are buttons in the tab order; Space chooses one
    await page.focus('#image');
    let active = null;
    for (let i = 0; i < 3 && active === null; i++) {
      await page.keyboard.press('Tab');
      active = await page.evaluate(() => document.activeElement.dataset.face ?? null);
    }
    await page.keyboard.press('Tab');
    active = await page.evaluate(() => document.activeElement.dataset.face ?? null);
    await page.keyboard.press('Space');
    let g = await geometry(page);
    check(`${tag}: Tab reaches the boxes in order, Space chooses one`, active === '1' && g.boxes[1].chosen && g.boxes[1].pressed === 'true'
      && g.boxes.filter((b) => b.chosen).length === 1, `active ${active}`);
    // a click (a tap on the phone) chooses another: marked, the others not
    if (phone) await page.tap('#faces [data-face="2"]'); else await page.click('#faces [data-face="2"]');
    g = await geometry(page);
    check(`${tag}: ${phone ? 'a tap' : 'a click'} chooses a box: class "chosen" and aria-pressed`,
      g.boxes.every((b) => b.chosen === (b.n === 2) && b.pressed === String(b.n === 2)) && g.crop === null);
    const r = await submitAndWait(page, seen);
    check(`${tag}: translate sends face=2, no crop (answered by the ${r.rec && r.rec.served})`,
      r.ok && r.rec && r.rec.fields.face === '2' && !('crop' in r.rec.fields) && !('paste' in r.rec.fields), JSON.stringify(r.rec && r.rec.fields) + r.error);
  } else {
    skip(`${tag}: face boxes (count, positions, choosing, face=N)`, `no detector at ${detector} (scripts/get-detector.sh makes it)`);
    await loadPhoto(page, exif6);
    const t = await page.locator('#faces-status').textContent();
    check(`${tag}: without a detector the page says so and offers the square`, /no face detector/i.test(t), t);
    size = await page.evaluate(() => ({ w: document.querySelector('#photo-view').naturalWidth, h: document.querySelector('#photo-view').naturalHeight }));
  }

  // the crop box: choosing it clears the face; a drag moves it, its corner resizes it, it stays inside
  await page.check('input[name=region][value=crop]');
  await page.locator('#stage').scrollIntoViewIfNeeded();
  let g = await geometry(page);
  let c0 = cropOf(g.crop && g.crop.value);
  check(`${tag}: "a square" shows the crop box and clears the face`, g.crop !== null && c0.length === 4 && c0[2] === c0[3]
    && g.boxes.every((b) => !b.chosen && b.pressed === 'false'), JSON.stringify(g.crop));
  const k = size.w / g.img.w; // photo pixels per CSS pixel
  const mid = { x: g.crop.x + g.crop.w / 2, y: g.crop.y + g.crop.h / 3 };
  await drag(page, phone ? await ctx.newCDPSession(page) : null, mid, { x: mid.x + 40, y: mid.y + 15 });
  g = await geometry(page);
  let c1 = cropOf(g.crop.value);
  const near = (a, b) => Math.abs(a - b) <= k + 1;
  check(`${tag}: ${phone ? 'a touch drag' : 'a mouse drag'} of (40, 15) px moves the square by (${(40 * k).toFixed(1)}, ${(15 * k).toFixed(1)}) photo px: ${c0} -> ${c1}`,
    near(c1[0], c0[0] + 40 * k) && near(c1[1], c0[1] + 15 * k) && c1[2] === c0[2] && c1[3] === c0[2]);
  const hd = { x: g.handle.x + g.handle.w / 2, y: g.handle.y + g.handle.h / 2 };
  await drag(page, phone ? await ctx.newCDPSession(page) : null, hd, { x: hd.x - 30, y: hd.y - 25 });
  g = await geometry(page);
  const c2 = cropOf(g.crop.value);
  check(`${tag}: dragging the corner resizes the square by ${(-30 * k).toFixed(1)} px, its top-left fixed: ${c1} -> ${c2}`,
    c2[0] === c1[0] && c2[1] === c1[1] && near(c2[2], c1[2] - 30 * k) && c2[2] === c2[3]);
  const inBox = { x: g.crop.x + g.crop.w / 3, y: g.crop.y + g.crop.h / 3 };
  await drag(page, phone ? await ctx.newCDPSession(page) : null, inBox, { x: inBox.x + 600, y: inBox.y + 600 }, 12);
  g = await geometry(page);
  const c3 = cropOf(g.crop.value);
  check(`${tag}: dragged far, the square stops at the photo's edge: ${c3}`,
    c3[2] === c2[2] && c3[0] === size.w - c3[2] && c3[1] === size.h - c3[2], `photo ${size.w}x${size.h}`);
  const types = await page.evaluate(() => window.pointerTypes);
  check(`${tag}: the drags came as ${phone ? 'touch' : 'mouse'} pointer events`, types.length === 3 && types.every((t) => t === (phone ? 'touch' : 'mouse')), types.join());
  if (!phone) { // the keyboard moves it too
    await page.focus('#crop-box');
    await page.keyboard.press('ArrowLeft');
    const c4 = cropOf(await page.locator('#crop-box').getAttribute('data-crop'));
    check(`${tag}: ArrowLeft on the square moves it left: ${c4}`, c4[0] < c3[0] && c4[1] === c3[1] && c4[2] === c3[2]);
    c1 = c4;
  }
  const want = await page.locator('#crop-box').getAttribute('data-crop');
  let r = await submitAndWait(page, seen);
  check(`${tag}: translate sends crop=${want}, no face (answered by the ${r.rec && r.rec.served})`,
    r.ok && r.rec && r.rec.fields.crop === want && !('face' in r.rec.fields), JSON.stringify(r.rec && r.rec.fields) + r.error);

  // paste: the answer is the whole photo, shown scaled to fit, downloadable at full size
  await page.check('input[name=paste]');
  r = await submitAndWait(page, seen);
  const shown = await page.evaluate(async () => {
    const img = document.querySelector('img#result');
    const a = document.querySelector('#download');
    const bmp = await createImageBitmap(await (await fetch(a.href)).blob());
    const b = img.getBoundingClientRect();
    return { nw: img.naturalWidth, nh: img.naturalHeight, w: b.width, right: b.right, vw: document.documentElement.clientWidth,
      sw: document.documentElement.scrollWidth, dl: { w: bmp.width, h: bmp.height, name: a.download, hidden: a.hidden } };
  });
  check(`${tag}: paste sends paste=true with the crop (answered by the ${r.rec && r.rec.served})`,
    r.ok && r.rec && r.rec.fields.paste === 'true' && r.rec.fields.crop === want, JSON.stringify(r.rec && r.rec.fields) + r.error);
  check(`${tag}: the pasted result is the photo's size (${shown.nw}x${shown.nh}), shown ${shown.w.toFixed(0)} px wide within the page`,
    shown.nw === size.w && shown.nh === size.h && shown.right <= shown.vw + 0.5 && shown.sw <= shown.vw, JSON.stringify(shown));
  check(`${tag}: the download is the full-size pasted result (${shown.dl.name})`,
    !shown.dl.hidden && shown.dl.w === size.w && shown.dl.h === size.h && /-pasted\.png$/.test(shown.dl.name), JSON.stringify(shown.dl));
  await page.locator('#h-result').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(outDir, `paste-${width}.png`), fullPage: true });

  // the whole photo: no region fields at all (the server's own answer)
  await page.uncheck('input[name=paste]');
  await page.check('input[name=region][value=whole]');
  g = await geometry(page);
  r = await submitAndWait(page, seen);
  check(`${tag}: "the whole photo" hides the square, marks no face and sends none of face, crop, paste`,
    g.crop === null && g.boxes.every((b) => !b.chosen) && r.ok && r.rec
    && !['face', 'crop', 'paste'].some((f) => f in r.rec.fields), JSON.stringify(r.rec && r.rec.fields) + r.error);
  g = await geometry(page);
  check(`${tag}: no horizontal overflow`, g.sw <= g.vw, `${g.sw} > ${g.vw}`);
  check(`${tag}: no console errors`, errors.length === 0, errors.join(' | '));
  await ctx.close();
}

// A server without a detector (501 no_detector, stubbed here): the page says so, draws no box,
// and the square still works.
async function noDetectorFlow(browser, base) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.route('**/v1/detect', (route) => route.fulfill({ status: 501, contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'no_detector', message: 'this server runs without a face detector' } }) }));
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 * slow });
  await loadPhoto(page, join(repo, 'tests', 'data', 'detect', 'exif6.jpg'));
  const t = await page.locator('#faces-status').textContent();
  await page.check('input[name=region][value=crop]');
  check('501 no_detector: the page says so, no boxes, the square offered and working', /no face detector/i.test(t)
    && await page.locator('#faces [data-face]').count() === 0 && await page.locator('input[name=region][value=face]').isDisabled()
    && await page.locator('#crop-box').isVisible(), t);
  await ctx.close();
}

// one photo in every domain: /v1/grid, three 256-px cells
async function allDomainsFlow(page) {
  await page.click('#all-domains');
  const ok = await page.waitForFunction(() => {
    const img = document.querySelector('#grid');
    return !document.querySelector('#grid-out').hidden && img.complete && img.naturalWidth === 768 && img.naturalHeight === 256;
  }, null, { timeout: 60000 * slow }).then(() => true, () => false);
  const cap = await page.locator('#grid-caption').textContent();
  check('all domains: a 3-cell grid, captioned with the domains', ok && /cat · dog · wild/.test(cap), cap + (await page.locator('#error').textContent()));
  const dl = await page.locator('#grid-download').getAttribute('download');
  check('all domains: downloadable', /^stargan-all-domains-seed\d+\.png$/.test(dl || ''), dl);
  await page.locator('#grid-out').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(outDir, 'all-domains.png'), fullPage: true });
}

// an interpolation through seeds: plays in the page (MP4 in <video>, WebP in <img>), downloadable
let jobPosts = 0; // videos asked for as jobs (Prefer: respond-async)
async function videoFlow(page, format) {
  await page.fill('#waypoints', '1, 2, 3');
  await page.fill('#frames', '6');
  await page.selectOption('#vformat', format);
  const posts = jobPosts;
  await page.click('#video-go');
  // the video runs as a job: a progress bar of its 10 steps (the photo, 3 styles, 6 frames)
  const progressed = await page.waitForFunction(() => {
    const b = document.querySelector('#video-bar');
    return !document.querySelector('#video-progress').hidden && b.max === 10 && b.value > 0 && b.value <= 10;
  }, null, { timeout: 60000 * slow, polling: 50 }).then(() => true, () => false);
  check(`video (${format}): a job, with a progress bar`, progressed && jobPosts === posts + 1,
    `${await page.locator('#video-progress').textContent()} posts=${jobPosts - posts}`);
  const played = await page.waitForFunction((fmt) => {
    if (document.querySelector('#video-out').hidden) return false;
    if (fmt === 'webp') { const i = document.querySelector('#video-webp'); return !i.hidden && i.complete && i.naturalWidth === 256; }
    const v = document.querySelector('#video');
    return !v.hidden && v.readyState >= 2 && v.videoWidth === 256 && v.duration > 0.4;
  }, format, { timeout: 90000 * slow }).then(() => true, () => false);
  check(`video (${format}): plays in the page`, played, (await page.locator('#error').textContent()));
  const info = await page.evaluate(async () => {
    const a = document.querySelector('#video-download');
    const b = new Uint8Array(await (await fetch(a.href)).arrayBuffer());
    return { name: a.download, head: String.fromCharCode(...b.slice(0, 12)), size: b.length };
  });
  const sig = format === 'webp' ? /^RIFF....WEBP$/s : /^....ftyp/s;
  check(`video (${format}): downloadable (${info.name}, ${info.size} bytes)`, sig.test(info.head) && info.name.endsWith(`.${format}`), JSON.stringify(info));
  if (format === 'mp4') { // a frame from the middle for the screenshot
    await page.evaluate(() => new Promise((r) => {
      const v = document.querySelector('#video');
      v.pause();
      v.addEventListener('seeked', r, { once: true });
      v.currentTime = v.duration / 2;
    }));
  }
  await page.locator('#h-video').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(outDir, `video-${format}.png`), fullPage: true });
}

// a video between the two styles kept in the recent strip (style waypoints)
async function keptVideoFlow(page) {
  await page.fill('#frames', '4');
  await page.click('#mix-video');
  const ok = await page.waitForFunction(() => /the two kept styles · 4 frames/.test(document.querySelector('#video-caption').textContent)
    && /kept-styles\.(mp4|webp)$/.test(document.querySelector('#video-download').download), null, { timeout: 90000 * slow }).then(() => true, () => false);
  check('video between the two kept styles', ok, await page.locator('#error').textContent());
}

// --api-key-file: the page asks for a key on 401, refuses a wrong one, keeps the right one for
// the session (a reload does not ask again)
async function keyFlow(browser, serverBin) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const keyFile = join(outDir, 'keys.txt');
  writeFileSync(keyFile, 'page-test-key\n');
  const daemon = spawn(serverBin, ['--listen', `127.0.0.1:${port}`, '--api-key-file', keyFile], { stdio: 'ignore' });
  try {
    check('keys daemon ready', await waitReady(base, 60000));
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${base}/`);
    const asked = await page.waitForSelector('#key-form:not([hidden])', { timeout: 20000 * slow }).then(() => true, () => false);
    check('401: the page asks for an API key', asked);
    await page.screenshot({ path: join(outDir, 'api-key.png'), fullPage: true });
    await page.fill('#api-key', 'wrong-key');
    await page.click('#key-save');
    const refused = await page.waitForFunction(() => !document.querySelector('#key-error').hidden, null, { timeout: 20000 * slow }).then(() => true, () => false);
    check('a wrong key is refused', refused);
    await page.fill('#api-key', 'page-test-key');
    await page.click('#key-save');
    const loaded = await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 * slow }).then(() => true, () => false);
    check('the right key opens the page', loaded && await page.locator('#key-form').isHidden());
    await page.setInputFiles('input[type=file][name=image]', join(fixtures, 'images/afhq/src/cat/flickr_cat_000253.jpg'));
    await page.click('#submit');
    const ok = await page.waitForFunction(() => { const i = document.querySelector('img#result'); return !i.hidden && i.complete && i.naturalWidth > 0; }, null, { timeout: 60000 * slow }).then(() => true, () => false);
    check('translate with the key', ok, await page.locator('#error').textContent());
    await page.reload();
    const kept = await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 * slow }).then(() => true, () => false);
    check('the key is kept for the session (a reload does not ask)', kept && await page.locator('#key-form').isHidden()
      && await page.evaluate(() => sessionStorage.getItem('stargan-api-key')) === 'page-test-key');
    await ctx.close();
  } finally {
    daemon.kill('SIGTERM');
  }
}

async function main() {
  const port = await freePort(), port2 = await freePort();
  const base = `http://127.0.0.1:${port}`, other = `http://127.0.0.1:${port2}`;
  const daemon = spawn(serverBin, ['--listen', `127.0.0.1:${port}`, '--cors-origin', other,
    '--detector', hasDetector ? detector : 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (d) => { log += d; });
  const statics = await staticServer(port2);
  let browser;
  try {
    check(`daemon ready with the demo model${hasDetector ? ' and the face detector' : ''}`, await waitReady(base, 60000), log.slice(-2000));
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const support = await regionSupport(base);
    console.log(`translate's region fields on this server: ${JSON.stringify(support)} (true: real calls; else the page's requests are checked against a stand-in answer)`);
    await facesFlow(browser, base, 1280, support);
    await facesFlow(browser, base, 390, support);
    await noDetectorFlow(browser, base);
    if (only !== 'faces') {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await ctx.newPage();
      const errors = await translateFlow(page, `${base}/`, 'same-origin');
      await blendFlow(page, errors);
      await moreResults(page, 2);
      await layoutCheck(page, 1280);
      await allDomainsFlow(page);
      const mp4 = await page.evaluate(() => document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"'));
      if (mp4) await videoFlow(page, 'mp4');
      else console.log('skip video (mp4): this Chromium has no H.264 decoder');
      await videoFlow(page, 'webp');
      await keptVideoFlow(page);
      check('no console errors after grid and video', errors.length === 0, errors.join(' | '));
      await badFileFlow(await ctx.newPage(), `${base}/`);
      await translateFlow(await ctx.newPage(), `${other}/?api=${encodeURIComponent(base)}`, 'cross-origin');
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
      const p = await phone.newPage();
      await translateFlow(p, `${base}/`, 'phone');
      await moreResults(p, 3);
      await layoutCheck(p, 390);
      await keyFlow(browser, serverBin);
    }
  } catch (e) {
    check('browser run', false, String(e));
  } finally {
    if (browser) await browser.close();
    statics.close();
    daemon.kill('SIGTERM');
  }
  console.log(`screenshots in ${outDir}`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed ? 1 : 0);
}

main();
