// The audit page's full load in a real browser (issue 14's benchmark): Debian's Chromium,
// signed in as a demo auditor, loads /audit (and a few other pages) 30 times each against a
// server the console benchmark started; a page's time is the browser's navigation timing from
// the request's start to the end of its load event (HTML, stylesheet, layout).
//
//   node scripts/bench-console-browser.mjs http://127.0.0.1:PORT
//
// Run by `mamori-bench console --browser-script scripts/bench-console-browser.mjs` (see
// docs/BENCHMARKS.md); needs `bash scripts/install-test-deps.sh` first.

import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(REPO, 'tests', 'browser', 'package.json'));
const { chromium } = require('playwright-core');
const base = process.argv[2];
const ROUNDS = 30;

function totp() {
  // The demo's published TOTP secret, through the mamori binary (as a person would read it).
  const release = path.join(REPO, 'target', 'release', 'mamori');
  const bin = process.env.MAMORI_BIN || (existsSync(release) ? release : path.join(REPO, 'target', 'debug', 'mamori'));
  return execFileSync(bin, ['demo-totp'], { encoding: 'utf8' }).trim();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await (await browser.newContext({ locale: 'ja-JP', viewport: { width: 1366, height: 768 } })).newPage();
await page.goto(`${base}/signin`);
// Not demo-auditor01, whom the benchmark signed in with this step's code moments ago.
await page.fill('input[name="username"]', 'demo-auditor02');
await page.fill('input[name="password"]', 'mamori-demo-2026');
await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
await page.fill('#code', totp());
await Promise.all([page.waitForNavigation(), page.click('#totp-submit')]);

const pct = (sorted, p) => sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
console.log('\n| page (browser, auditor) | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|');
for (const url of ['/audit', '/audit?size=500', '/dashboard', '/signals', '/floor']) {
  const times = [];
  for (let i = 0; i <= ROUNDS; i++) {
    await page.goto(`${base}${url}`, { waitUntil: 'load' });
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      return nav.loadEventEnd - nav.startTime;
    });
    if (i > 0) times.push(t);
  }
  times.sort((a, b) => a - b);
  console.log(`| \`${url}\` | ${pct(times, 50).toFixed(0)} | ${pct(times, 95).toFixed(0)} | ${times[times.length - 1].toFixed(0)} |`);
}
await browser.close();
