// Headless-browser test of detection and incidents (issue 16) on the demo contact center, in
// Japanese and in English (screenshots in tests/browser/artifacts):
//
// - the demo's simulated operator demo-op05 browses customers with no call: within a minute
//   the supervisor of team A sees a high-severity alert naming the rule, the value and the
//   threshold, and its page lists the lookups behind it;
// - an operator reports a possible leak in one step from the header, anonymously; the security
//   admin finds it on the incidents page; records card data of 1,200 people and sees that a
//   report to the PPC is required, with its deadlines.
//
// Run:   cargo build -p mamori && bash scripts/install-test-deps.sh && node --test tests/browser/

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

async function shot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

test('detection: the demo insider raises an explained alert; a leak reported in one step becomes an incident with its PPC deadlines', { timeout: 300_000 }, async () => {
  const server = await startDemo();
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true });
  try {
    // demo-op05 browses customers off-call: one a step of the simulated feed.
    const admin = await signInDemo(browser, server.base, 'demo-admin01');
    const deadline = Date.now() + 120_000;
    let row;
    for (;;) {
      await admin.goto(`${server.base}/alerts`);
      row = admin.locator('#alerts tr.rule-off_call_lookups');
      if (await row.count()) break;
      assert.ok(Date.now() < deadline, 'the off-call alert appeared within two minutes');
      await admin.waitForTimeout(2000);
    }
    assert.match(await row.first().getAttribute('class'), /severity-high/);
    assert.match(await row.first().getAttribute('class'), /attention/, 'an open high alert is marked');
    const text = await row.first().textContent();
    assert.ok(text.includes('通話外') && text.includes('しきい値 15'), `the rule and its threshold in words: ${text}`);
    assert.ok(text.includes('デモオペレーター05'), `a name, not an id: ${text}`);
    await shot(admin, 'alerts-ja.png');
    await row.first().locator('a.open-alert').click();
    await admin.waitForURL(/\/alerts\/[0-9a-f-]{36}$/);
    const evidence = await admin.locator('#alert-evidence tbody tr').count();
    assert.ok(evidence >= 15, `the lookups behind it are listed (${evidence})`);
    await shot(admin, 'alert-ja.png');

    // An operator reports a lost USB stick from the header, anonymously, in English.
    const op = await signInDemo(browser, server.base, 'demo-op02', 'en-US');
    await op.goto(`${server.base}/dashboard`);
    await op.click('#report-leak');
    await op.waitForURL(/\/report$/);
    await op.selectOption('#report-kind', 'lost_device');
    await op.fill('#report-description', 'Lost a USB stick with a customer list on the train home.');
    await op.check('#report-anonymous-check');
    await shot(op, 'report-en.png');
    await op.click('#report-submit');
    await op.waitForURL(/\/report\/thanks/);
    assert.equal(await op.locator('#report-thanks').count(), 1);
    await shot(op, 'report-thanks-en.png');

    // The security admin finds it, assesses it, and sees the clock.
    await admin.goto(`${server.base}/incidents`);
    const incident = admin.locator('#incidents tr.incident').first();
    assert.ok((await incident.textContent()).includes('USB'), 'the report is an incident');
    await incident.locator('a').first().click();
    await admin.waitForURL(/\/incidents\/[0-9a-f-]{36}$/);
    assert.ok((await admin.locator('body').textContent()).includes('匿名'), 'the reporter is not named');
    await admin.fill('input[name="people"]', '1200');
    await admin.check('input[name="financial"]');
    await admin.locator('#assessment-form button[type="submit"]').click();
    await admin.waitForLoadState();
    const page = await admin.locator('body').textContent();
    assert.ok(page.includes('PPCへの報告と本人への通知が必要です'), 'a report is required');
    assert.ok(page.includes('速報') && page.includes('確報'), 'with both deadlines');
    await shot(admin, 'incident-ja.png');
  } finally {
    await browser.close();
    await stopServer(server);
  }
});
