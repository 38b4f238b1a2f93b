// Browser tests of the front end: the real daemon on loopback with the demo model, the page in
// headless Debian Chromium driven by playwright-core (no browser download).
// usage: node web_test.mjs SERVER_BIN FIXTURES OUT_DIR      (prints "N passed, N failed")
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const [serverBin, fixtures, outDir] = process.argv.slice(2);
const webDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
mkdirSync(outDir, { recursive: true });
let passed = 0, failed = 0;
const check = (name, ok, detail = '') => {
  if (ok) { passed++; console.log(`ok   ${name}`); } else { failed++; console.log(`FAIL ${name} ${detail}`); }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/interpolate') && r.headers().prefer === 'respond-async') jobPosts++;
  });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 });
  await page.setInputFiles('input[type=file][name=image]', join(fixtures, 'images/afhq/src/cat/flickr_cat_000253.jpg'));
  await page.selectOption('select[name=domain]', 'dog');
  await page.click('#submit');
  const ok = await page.waitForFunction(() => {
    const img = document.querySelector('img#result');
    return img && !img.hidden && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 60000 }).then(() => true, () => false);
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
  await page.waitForFunction((n) => document.querySelectorAll('#recent li').length > n, before, { timeout: 60000 });
  const keep = page.locator('#recent li button', { hasText: 'Keep style' });
  await keep.nth(0).click();
  await keep.nth(1).click();
  await page.waitForSelector('#mix:not([hidden])', { timeout: 20000 });
  await page.click('#mix-go');
  const ok = await page.waitForFunction(() => /blend/.test(document.querySelector('#result-caption').textContent)
    && document.querySelector('img#result').complete, null, { timeout: 60000 }).then(() => true, () => false);
  check('blend of two kept styles', ok, (await page.locator('#error').textContent()) + errors.join(' | '));
}

async function badFileFlow(page, url) {
  const bad = join(outDir, 'not-a-photo.jpg');
  writeFileSync(bad, 'this is not an image');
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 });
  await page.setInputFiles('input[type=file][name=image]', bad);
  await page.click('#submit');
  const shown = await page.waitForFunction(() => {
    const e = document.querySelector('#error');
    return e && !e.hidden && e.textContent.length > 10;
  }, null, { timeout: 30000 }).then(() => true, () => false);
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
    await page.waitForFunction((k) => document.querySelectorAll('#recent li').length > k, before, { timeout: 60000 });
  }
}

// one photo in every domain: /v1/grid, three 256-px cells
async function allDomainsFlow(page) {
  await page.click('#all-domains');
  const ok = await page.waitForFunction(() => {
    const img = document.querySelector('#grid');
    return !document.querySelector('#grid-out').hidden && img.complete && img.naturalWidth === 768 && img.naturalHeight === 256;
  }, null, { timeout: 60000 }).then(() => true, () => false);
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
  }, null, { timeout: 60000, polling: 50 }).then(() => true, () => false);
  check(`video (${format}): a job, with a progress bar`, progressed && jobPosts === posts + 1,
    `${await page.locator('#video-progress').textContent()} posts=${jobPosts - posts}`);
  const played = await page.waitForFunction((fmt) => {
    if (document.querySelector('#video-out').hidden) return false;
    if (fmt === 'webp') { const i = document.querySelector('#video-webp'); return !i.hidden && i.complete && i.naturalWidth === 256; }
    const v = document.querySelector('#video');
    return !v.hidden && v.readyState >= 2 && v.videoWidth === 256 && v.duration > 0.4;
  }, format, { timeout: 90000 }).then(() => true, () => false);
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
    && /kept-styles\.(mp4|webp)$/.test(document.querySelector('#video-download').download), null, { timeout: 90000 }).then(() => true, () => false);
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
    const asked = await page.waitForSelector('#key-form:not([hidden])', { timeout: 20000 }).then(() => true, () => false);
    check('401: the page asks for an API key', asked);
    await page.screenshot({ path: join(outDir, 'api-key.png'), fullPage: true });
    await page.fill('#api-key', 'wrong-key');
    await page.click('#key-save');
    const refused = await page.waitForFunction(() => !document.querySelector('#key-error').hidden, null, { timeout: 20000 }).then(() => true, () => false);
    check('a wrong key is refused', refused);
    await page.fill('#api-key', 'page-test-key');
    await page.click('#key-save');
    const loaded = await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 }).then(() => true, () => false);
    check('the right key opens the page', loaded && await page.locator('#key-form').isHidden());
    await page.setInputFiles('input[type=file][name=image]', join(fixtures, 'images/afhq/src/cat/flickr_cat_000253.jpg'));
    await page.click('#submit');
    const ok = await page.waitForFunction(() => { const i = document.querySelector('img#result'); return !i.hidden && i.complete && i.naturalWidth > 0; }, null, { timeout: 60000 }).then(() => true, () => false);
    check('translate with the key', ok, await page.locator('#error').textContent());
    await page.reload();
    const kept = await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 }).then(() => true, () => false);
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
  const daemon = spawn(serverBin, ['--listen', `127.0.0.1:${port}`, '--cors-origin', other],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (d) => { log += d; });
  const statics = await staticServer(port2);
  let browser;
  try {
    check('daemon ready with the demo model', await waitReady(base, 60000), log.slice(-2000));
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
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
  } catch (e) {
    check('browser run', false, String(e));
  } finally {
    if (browser) await browser.close();
    statics.close();
    daemon.kill('SIGTERM');
  }
  console.log(`screenshots in ${outDir}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
