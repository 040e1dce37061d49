// Headless-browser test of signals reaching the people who act on them, and each role's home
// page (issue 14, items 1 and 4; MON-1, MON-2, MON-4).
//
// Run:   bash scripts/install-test-deps.sh && node --test tests/browser/
//
// Starts `mamori serve --demo`. The security admin demo-admin01 opens the signals page and finds
// DEMO-PC-12's USB stick (the demo plugs one in early), in words; follows the PC's link to its
// page and sees the same event there. Each role's home page is opened, its counts link to the
// work. Screenshots in tests/browser/artifacts: signals-ja.png, signals-en.png,
// device-events-ja.png, home-<role>-ja.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { signInDemo, startDemo, stopServer } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');

test('the admin sees DEMO-PC-12 USB stick on the signals page and the PC page', { timeout: 240_000 }, async () => {
  let server;
  let browser;
  try {
    server = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
    await mkdir(ARTIFACTS, { recursive: true });
    const page = await signInDemo(browser, server.base, 'demo-admin01');
    const row = 'tr.signal.kind-usb_attached:has(a:text-is("DEMO-PC-12"))';
    // The demo plugs the stick in within its first steps: reload until it is there.
    for (let i = 0; i < 30 && !(await page.$(row)); i++) {
      await page.goto(`${server.base}/signals`);
      if (!(await page.$(row))) await page.waitForTimeout(1000);
    }
    assert.ok(await page.$(row), 'DEMO-PC-12 USB signal listed');
    assert.match(await page.textContent(row), /USB機器の接続/);
    assert.match(await page.textContent(row), /ストレージ機器: はい/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'signals-ja.png'), fullPage: true });

    await Promise.all([page.waitForNavigation(), page.click(`${row} a:text-is("DEMO-PC-12")`)]);
    assert.match(await page.textContent('#device-events'), /USB機器の接続/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'device-events-ja.png'), fullPage: true });

    // Narrowed to the kind from the filter.
    await page.goto(`${server.base}/signals`);
    await page.selectOption('select[name="kind"]', 'usb_attached');
    await Promise.all([page.waitForNavigation(), page.click('#signal-filters button[type="submit"]')]);
    const kinds = await page.$$eval('tr.signal', (rows) => rows.map((r) => r.className));
    assert.ok(kinds.length > 0 && kinds.every((k) => k.includes('kind-usb_attached')), kinds.join());

    // The floor: at least 20 operators on a 1366×768 screen, problems first, nothing cut off.
    await page.goto(`${server.base}/floor`);
    await page.waitForSelector('tr.floor-row');
    const fit = await page.$$eval('tr.floor-row', (rows) => rows.filter((r) => r.getBoundingClientRect().bottom <= window.innerHeight).length);
    assert.ok(fit >= 20, `operators on one screen: ${fit}`);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 1366, `the floor fits the screen's width (${wide} px)`);
    assert.match(await page.textContent('tr.floor-row:first-child'), /USBストレージ|ソフトウェア|ビルド|暗号化|ウイルス|ネットワーク/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'floor-1366-ja.png') });

    // The home page counts today's signals and links to them.
    await page.goto(`${server.base}/dashboard`);
    const count = Number(await page.textContent('#home-signals .number'));
    assert.ok(count >= 1, `signals today: ${count}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'home-security_admin-ja.png'), fullPage: true });

    // In English.
    const en = await signInDemo(browser, server.base, 'demo-admin02', 'en-US');
    await en.goto(`${server.base}/profile`);
    await en.selectOption('#language', 'en');
    await Promise.all([en.waitForNavigation(), en.click('#language-submit')]);
    await en.goto(`${server.base}/signals`);
    assert.match(await en.textContent(row), /USB device plugged in/);
    await en.screenshot({ path: path.join(ARTIFACTS, 'signals-en.png'), fullPage: true });

    // Every role's home: counts that link to the work.
    for (const [user, role, tile, href] of [
      ['demo-op01', 'operator', '#home-active-calls', '/workspace'],
      ['demo-sv01', 'supervisor', '#home-attention', '/floor?flag=attention'],
      ['demo-auditor01', 'auditor', '#home-reveals', '/audit?action=customer.reveal'],
    ]) {
      const home = await signInDemo(browser, server.base, user);
      await home.goto(`${server.base}/dashboard`);
      assert.ok((await home.getAttribute(tile, 'href')).startsWith(href), `${role}: ${tile}`);
      await home.screenshot({ path: path.join(ARTIFACTS, `home-${role}-ja.png`), fullPage: true });
    }
  } finally {
    if (browser) await browser.close();
    await stopServer(server);
  }
});
