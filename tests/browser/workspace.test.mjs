// Headless-browser test of the operator workspace on the demo contact center (issue 4).
//
// Run:   bash scripts/install-test-deps.sh && node --test tests/browser/
//
// Starts `mamori serve --demo` (its simulated telephony feed gives demo-op01 a call within
// seconds), signs in as the operator, looks up the caller of the active call with one click,
// checks the card is masked (card number: last four digits), reveals the card number with a
// reason, and saves a screenshot to tests/browser/artifacts/workspace-ja.png. Then, as a
// security admin, checks the live floor shows the simulated PCs working, idle, locked and off
// shift with their counts, and renews its live part in place, without a reload (floor-ja.png).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { MAMORI_BIN, startDemo, stopServer } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');

test('operator workspace on the demo in headless Chromium', { timeout: 240_000 }, async () => {
  let server;
  let browser;
  try {
    server = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
    const context = await browser.newContext({ locale: 'ja-JP' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const cspErrors = [];
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });

    await page.goto(`${server.base}/signin`);
    await page.fill('input[name="username"]', 'demo-op01');
    await page.fill('input[name="password"]', 'mamori-demo-2026');
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    await page.goto(`${server.base}/workspace`);
    assert.equal(await page.textContent('h1'), '顧客対応');

    // The simulated feed gives demo-op01 a call within a couple of seconds.
    let button = null;
    for (let i = 0; i < 15 && !button; i += 1) {
      button = await page.$('button.lookup-caller');
      if (!button) {
        await new Promise((r) => setTimeout(r, 1000));
        await page.reload();
      }
    }
    assert.ok(button, `no active call appeared for demo-op01\n${server.logs()}`);
    await Promise.all([page.waitForNavigation(), button.click()]);
    const found = await page.$$('section.customer');
    const none = await page.$('#no-customers');
    // One call in eight comes from an unknown number; then nobody is found, which is right too.
    assert.ok(found.length === 1 || none, 'a card, or the notice that nobody matches');
    const revealed = found.length === 1;
    if (revealed) {
      const card = await page.textContent('section.customer tr[data-field="card_number"] td.value');
      assert.match(card, /^\*\*\*\* \*\*\*\* \*\*\*\* \d{4}$/, 'PCI DSS 3.4.1: last four digits only');
      await page.selectOption('form.reveal select[name="field"]', 'card_number');
      await page.selectOption('form.reveal select[name="reason_code"]', 'fraud_check');
      await page.fill('form.reveal input[name="reason_text"]', '不正利用の確認のため');
      await Promise.all([page.waitForNavigation(), page.click('button.reveal-submit')]);
      assert.match(await page.textContent('#revealed-value'), /^\d{16}$/, 'the card number in full');
    }

    // A lookup by another number without a reason is refused, saying why.
    await page.goto(`${server.base}/workspace`);
    await page.fill('#lookup-value', '050-1000-0000');
    await Promise.all([page.waitForNavigation(), page.click('#lookup-submit')]);
    assert.match(await page.textContent('p.error'), /理由/);
    await page.selectOption('#lookup-reason', 'callback');
    await page.fill('#lookup-reason-text', 'お約束の折り返し');
    await Promise.all([page.waitForNavigation(), page.click('#lookup-submit')]);
    assert.equal((await page.$$('section.customer')).length, 1, 'demo customer 00000 belongs to demo-op01’s client');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'workspace-ja.png'), fullPage: true });
    assert.deepEqual(cspErrors, [], 'no Content Security Policy violations');

    // The live floor, as a security admin: the simulated PCs' activity gives every state.
    const admin = await (await browser.newContext({ locale: 'ja-JP' })).newPage();
    admin.setDefaultTimeout(20_000);
    await admin.goto(`${server.base}/signin`);
    await admin.fill('input[name="username"]', 'demo-admin01');
    await admin.fill('input[name="password"]', 'mamori-demo-2026');
    await Promise.all([admin.waitForNavigation(), admin.click('button[type="submit"]')]);
    const code = execFileSync(MAMORI_BIN, ['demo-totp'], { encoding: 'utf8' }).trim();
    await admin.fill('#code', code);
    await Promise.all([admin.waitForNavigation(), admin.click('#totp-submit')]);
    await admin.goto(`${server.base}/floor`);
    const count = async (state) => (await admin.$$(`#floor .state-${state}`)).length;
    assert.ok(await count('working') >= 20, `most operators are working: ${await admin.textContent('#floor')}`);
    assert.ok(await count('locked') >= 1, 'DEMO-PC-05 is locked');
    assert.ok(await count('idle') >= 1, 'DEMO-PC-09 is idle');
    assert.ok(await count('off_shift') >= 1, 'demo-op30 has no shifts');
    const counts = await admin.$$eval('#floor td.activity', (cells) => cells.map((c) => c.textContent.trim()));
    assert.ok(counts.some((c) => /^\d+ \/ \d+$/.test(c)), `keystroke and click counts: ${counts}`);
    assert.match(await admin.textContent('#floor'), /crm\.example\.co\.jp/, 'the browser host in front');
    // The live part is sent again as the simulated PCs report, swapped in place: no reload.
    await admin.evaluate(() => { window.floorMarker = true; });
    const before = await admin.getAttribute('#floor-live', 'data-updated');
    await admin.waitForFunction((b) => {
      const now = document.getElementById('floor-live').dataset.updated;
      return now !== undefined && now !== b;
    }, before, { timeout: 15_000 });
    assert.equal(await admin.evaluate(() => window.floorMarker), true, 'the page was not reloaded');
    await admin.screenshot({ path: path.join(ARTIFACTS, 'floor-ja.png'), fullPage: true });

    // The auditor (issue 14, item 5): finds demo-op01's reveals and lookups by typing the user
    // name and a word of the action's Japanese label, then verifies the log from the console.
    const auditor = await (await browser.newContext({ locale: 'ja-JP' })).newPage();
    auditor.setDefaultTimeout(20_000);
    await auditor.goto(`${server.base}/signin`);
    await auditor.fill('input[name="username"]', 'demo-auditor01');
    await auditor.fill('input[name="password"]', 'mamori-demo-2026');
    await Promise.all([auditor.waitForNavigation(), auditor.click('button[type="submit"]')]);
    await auditor.fill('#code', execFileSync(MAMORI_BIN, ['demo-totp'], { encoding: 'utf8' }).trim());
    await Promise.all([auditor.waitForNavigation(), auditor.click('#totp-submit')]);
    const search = async (actor, action) => {
      await auditor.goto(`${server.base}/audit`);
      await auditor.fill('input[name="actor"]', actor);
      await auditor.fill('input[name="action"]', action);
      await Promise.all([auditor.waitForNavigation(), auditor.click('form[action="/audit"] button[type="submit"]')]);
      return auditor.$$eval('table.audit tbody tr', (rows) =>
        rows.map((r) => ({ action: r.querySelector('td:nth-child(4) code').textContent, actor: r.querySelector('td:nth-child(5)').textContent })));
    };
    const reveals = await search('demo-op01', '表示');
    assert.equal(reveals.filter((r) => r.action === 'customer.reveal').length, revealed ? 1 : 0, `reveals: ${JSON.stringify(reveals)}`);
    assert.ok(reveals.every((r) => r.actor.includes('(demo-op01)')), `only demo-op01, by name: ${JSON.stringify(reveals)}`);
    const lookups = await search('demo-op01', '閲覧');
    assert.ok(lookups.some((r) => r.action === 'customer.lookup'), `lookups: ${JSON.stringify(lookups)}`);
    await auditor.screenshot({ path: path.join(ARTIFACTS, 'audit-search-ja.png'), fullPage: true });
    await Promise.all([auditor.waitForNavigation(), auditor.click('#audit-verify')]);
    assert.match(await auditor.textContent('#audit-verification'), /^一致しました/, 'the live log verifies');
    await auditor.screenshot({ path: path.join(ARTIFACTS, 'audit-verify-ja.png') });
  } finally {
    if (browser) await browser.close();
    await stopServer(server);
  }
});
