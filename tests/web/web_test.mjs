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
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('select[name=domain]').options.length > 0, null, { timeout: 20000 });
  await page.setInputFiles('input[type=file][name=image]', join(fixtures, 'images/afhq/src/cat/flickr_cat_000253.jpg'));
  await page.selectOption('select[name=domain]', 'dog');
  await page.click('button[type=submit]');
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
  await page.click('button[type=submit]');
  const shown = await page.waitForFunction(() => {
    const e = document.querySelector('#error');
    return e && !e.hidden && e.textContent.length > 10;
  }, null, { timeout: 30000 }).then(() => true, () => false);
  const text = await page.locator('#error').textContent();
  check('non-image file shows an error message', shown && /not a (PNG or JPEG )?photo|could not be read/i.test(text), text);
  await page.screenshot({ path: join(outDir, 'error.png'), fullPage: true });
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
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await ctx.newPage();
    const errors = await translateFlow(page, `${base}/`, 'same-origin');
    await blendFlow(page, errors);
    await badFileFlow(await ctx.newPage(), `${base}/`);
    await translateFlow(await ctx.newPage(), `${other}/?api=${encodeURIComponent(base)}`, 'cross-origin');
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const p = await phone.newPage();
    await p.goto(`${base}/`);
    await p.screenshot({ path: join(outDir, 'phone.png'), fullPage: true });
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
