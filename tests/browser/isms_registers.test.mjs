// Headless-browser test of the ISMS registers beside the SoA (issue 17) on the demo contact
// center, in Japanese and in English (screenshots in tests/browser/artifacts):
//
// - the demo security admin opens the ISMS dashboard (/isms): the vendor's Privacy Mark that ends
//   in 20 days is listed with its notice in words, and a control whose live evidence fails or
//   warns links to its control page, which opens;
// - the risk page draws the inherent and residual heat maps as inline SVG: 25 cells each, whose
//   counts add up to the number of risks in the register;
// - the assets, vendors, one risk, one asset and one vendor open in both languages;
// - a vendor registered through the list's form is listed under its outsourcer; its page shows
//   the edit, assessment, visit and certificate forms below its data, in both languages.
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

/** The cells of a heat map and the sum of their counts. */
async function heat(page, id) {
  const counts = await page.locator(`#${id} svg g.heat-cell`).evaluateAll(
    (cells) => cells.map((c) => Number(c.getAttribute('data-count'))),
  );
  return { cells: counts.length, sum: counts.reduce((a, b) => a + b, 0) };
}

test('ISMS registers: the dashboard shows problems first; the risk heat map counts every risk', { timeout: 300_000 }, async () => {
  const server = await startDemo();
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true });
  try {
    const admin = await signInDemo(browser, server.base, 'demo-admin01');

    // The dashboard. Live evidence is measured within seconds of the start; wait for a problem.
    await admin.goto(`${server.base}/isms`);
    assert.equal(await admin.locator('h1').textContent(), 'ISMS ダッシュボード');
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (await admin.locator('#dashboard-failing li.failing-control').count()) break;
      assert.ok(Date.now() < deadline, 'a control with failing or warning evidence within 90 s');
      await admin.waitForTimeout(2000);
      await admin.reload();
    }
    const certificates = await admin.locator('#dashboard-certificates li.certificate').allTextContents();
    assert.ok(
      certificates.some((t) => t.includes('プライバシーマーク') && t.includes('あと20日で期限切れ')),
      `the vendor's Privacy Mark ending in 20 days is listed: ${certificates.join(' | ')}`,
    );
    const failing = admin.locator('#dashboard-failing li.failing-control').first();
    assert.match(await failing.locator('.tag').first().textContent(), /不合格|要注意/, 'the status in words');
    for (const id of ['#annex-applicable', '#annex-implemented', '#annex-undecided', '#count-alerts', '#count-incidents']) {
      assert.match(await admin.locator(`${id} .number`).textContent(), /^\d+$/, `${id} counts`);
    }
    assert.ok(await admin.locator('#dashboard-reviews').count(), 'the reviews section is there');
    await shot(admin, 'isms-dashboard-ja.png');

    // Follow the failing control to its page.
    const control = failing.locator('a[href^="/isms/controls/"]').first();
    const ref = (await control.locator('strong').textContent()).trim();
    await control.click();
    await admin.waitForURL(/\/isms\/controls\//);
    assert.equal((await admin.locator('#control-ref').textContent()).trim(), ref, 'the control page of the link');

    // The risks: two heat maps of 25 cells whose counts add up to the register.
    await admin.goto(`${server.base}/isms`);
    await admin.click('#isms-tabs a[href="/isms/risks"]');
    await admin.waitForURL(/\/isms\/risks$/);
    const risks = await admin.locator('#risks tbody tr.risk').count();
    assert.ok(risks >= 40, `the demo's risks are listed (${risks})`);
    for (const id of ['heat-inherent', 'heat-residual']) {
      const { cells, sum } = await heat(admin, id);
      assert.equal(cells, 25, `${id}: a 5×5 grid`);
      assert.equal(sum, risks, `${id}: every risk counted once`);
    }
    assert.ok((await admin.locator('#heat-inherent svg').textContent()).includes('ほぼ確実'), 'axis labels in Japanese');
    assert.match(await admin.locator('#risks tbody tr.risk td .risk-number').first().textContent(), /^R-\d+$/);
    await shot(admin, 'isms-risks-ja.png');
    // Only those above the appetite.
    await admin.click('#risk-above-toggle');
    await admin.waitForURL(/above=1/);
    const above = await admin.locator('#risks tbody tr.risk').count();
    assert.equal(await admin.locator('#risks tbody tr.risk.above-appetite').count(), above, 'only risks above the appetite');
    // One risk.
    await admin.locator('#risks a.risk-number').first().click();
    await admin.waitForURL(/\/isms\/risks\/[^/?]+$/);
    assert.match(await admin.locator('#risk-number').textContent(), /^R-\d+$/);
    await shot(admin, 'isms-risk-ja.png');

    // A risk refused in the form says why; a good one is saved.
    await admin.goto(`${server.base}/isms/risks`);
    await admin.fill('#risk-form input[name="title"]', 'テスト用リスク');
    await admin.selectOption('#risk-form select[name="inherent_probability"]', '3');
    await admin.selectOption('#risk-form select[name="inherent_impact"]', '3');
    await admin.selectOption('#risk-form select[name="treatment"]', 'reduce');
    await admin.click('#risk-submit');
    assert.ok((await admin.locator('#risk-form-error').textContent()).includes('管理策'), 'a reduced risk names its controls');
    await admin.fill('#risk-form input[name="controls"]', 'A.8.12, A.5.10');
    await admin.click('#risk-submit');
    await admin.waitForURL(/\/isms\/risks\/[^/?]+\?saved=1$/);
    assert.equal((await admin.locator('#risk-controls a.linked-control').count()), 2, 'the controls by name');

    // Assets and vendors.
    await admin.goto(`${server.base}/isms/assets`);
    assert.ok(await admin.locator('#assets tbody tr.asset').count() > 0, 'assets are listed');
    await shot(admin, 'isms-assets-ja.png');
    await admin.locator('#assets a.asset-name').first().click();
    await admin.waitForURL(/\/isms\/assets\/[^/?]+$/);
    await shot(admin, 'isms-asset-ja.png');
    await admin.goto(`${server.base}/isms/vendors`);
    assert.ok(await admin.locator('#vendors tbody tr.vendor').count() >= 8, 'the demo vendors are listed');
    assert.ok(await admin.locator('#certificate-table tr.own-certificate').count() > 0, "the centre's own certificates too");
    await shot(admin, 'isms-vendors-ja.png');
    await admin.locator('#vendors a.vendor-name').first().click();
    await admin.waitForURL(/\/isms\/vendors\/[^/?]+$/);
    await shot(admin, 'isms-vendor-ja.png');

    // A vendor registered through the form (a subcontractor, chosen by name), then in the list.
    await admin.goto(`${server.base}/isms/vendors`);
    await admin.click('#vendor-create summary');
    await admin.fill('#vendor-form input[name="name"]', 'ブラウザテスト入力代行');
    const outsourcer = (await admin.locator('#vendor-form select[name="parent_id"] option').nth(1).textContent()).trim();
    await admin.selectOption('#vendor-form select[name="parent_id"]', { label: outsourcer });
    await admin.locator('#vendor-form input[name="client_ids"]').first().check();
    await admin.fill('#vendor-form textarea[name="data_handled"]', '氏名・電話番号');
    await admin.click('#vendor-submit');
    await admin.waitForURL(/\/isms\/vendors\/[^/?]+\?saved=1$/);
    assert.equal((await admin.locator('#vendor-name').textContent()).trim(), 'ブラウザテスト入力代行');
    const vendorUrl = admin.url().replace('?saved=1', '');
    await admin.goto(`${server.base}/isms/vendors`);
    const row = admin.locator('#vendors tr.vendor', { hasText: 'ブラウザテスト入力代行' });
    assert.equal(await row.count(), 1, 'the new vendor is listed');
    assert.ok((await row.textContent()).includes(outsourcer), 'under its outsourcer, by name');
    // Its page with every form opened: the data first, the forms below.
    await admin.goto(vendorUrl);
    await admin.locator('#vendor-manage details').evaluateAll((ds) => ds.forEach((d) => { d.open = true; }));
    assert.equal(await admin.locator('#vendor-assess-form select').count(), 10, 'the ten criteria');
    await shot(admin, 'isms-vendor-forms-ja.png');

    // English: the same session in a browser that prefers English.
    const english = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 768 } });
    await english.addCookies(await admin.context().cookies());
    const en = await english.newPage();
    en.setDefaultTimeout(20_000);
    await en.goto(`${server.base}/isms`);
    assert.equal(await en.locator('h1').textContent(), 'ISMS dashboard');
    assert.ok((await en.locator('#dashboard-certificates').textContent()).includes('Expires in 20 days'));
    await shot(en, 'isms-dashboard-en.png');
    await en.goto(`${server.base}/isms/risks`);
    assert.ok((await en.locator('#heat-inherent svg').textContent()).includes('Almost certain'), 'axis labels in English');
    await shot(en, 'isms-risks-en.png');
    await en.locator('#risks a.risk-number').first().click();
    await shot(en, 'isms-risk-en.png');
    await en.goto(`${server.base}/isms/assets`);
    await shot(en, 'isms-assets-en.png');
    await en.locator('#assets a.asset-name').first().click();
    await shot(en, 'isms-asset-en.png');
    await en.goto(`${server.base}/isms/vendors`);
    await shot(en, 'isms-vendors-en.png');
    await en.locator('#vendors a.vendor-name').first().click();
    await shot(en, 'isms-vendor-en.png');
    await en.goto(vendorUrl);
    await en.locator('#vendor-manage details').evaluateAll((ds) => ds.forEach((d) => { d.open = true; }));
    assert.ok((await en.locator('#vendor-assess-form').textContent()).includes('Security policy'), 'criteria in English');
    await shot(en, 'isms-vendor-forms-en.png');
  } finally {
    await browser.close();
    await stopServer(server);
  }
});
