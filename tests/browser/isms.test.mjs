// Headless-browser test of the ISMS registers (issue 17) on the demo contact center, in Japanese
// and in English (screenshots in tests/browser/artifacts):
//
// - the security admin opens the Statement of Applicability from the navigation: Annex A, its
//   summary, and live evidence badges beside the controls, each linking to its line on the
//   evidence page;
// - on the evidence page, "今すぐ計測" takes every measurement, and an item's "data behind it"
//   link opens that data (the users list);
// - one undecided control is decided: "does not apply" without a justification is refused with
//   the reason in the form; with one it is saved as version 1, which the history shows;
// - (issue 17, done when) the security admin opens the dashboard (/isms), follows a failing —
//   or warning — live evidence to its line on the evidence page and on to the data behind it,
//   then exports the SoA as PDF from the SoA page (read back with pdftotext: the Japanese
//   control names are text, the font embedded).
//
// Run:   cargo build -p mamori && bash scripts/install-test-deps.sh && node --test tests/browser/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
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

test('ISMS: the SoA shows Annex A with live evidence; measuring now, the data behind it, and a control decided in versions', { timeout: 300_000 }, async () => {
  const server = await startDemo();
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true });
  try {
    const admin = await signInDemo(browser, server.base, 'demo-admin01');

    // From the home page to the ISMS dashboard through the navigation, then to the Statement
    // of Applicability through the ISMS sections.
    await admin.goto(`${server.base}/dashboard`);
    await admin.click('header nav a[href="/isms"]');
    await admin.waitForURL(/\/isms$/);
    await admin.click('#isms-tabs a[href="/isms/soa"]');
    await admin.waitForURL(/\/isms\/soa$/);
    assert.equal(await admin.locator('h1').textContent(), '適用宣言書');
    const current = admin.locator('#catalog-tabs a[aria-current="page"]');
    assert.match(await current.textContent(), /附属書A/, 'Annex A is shown first');
    assert.equal(await admin.locator('#catalog-tabs a.catalog-tab').count(), 3, 'Annex A, telework, leak');

    // The evidence task measures within seconds of the start; wait for the badges.
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (await admin.locator('#soa a.evidence-badge').count()) break;
      assert.ok(Date.now() < deadline, 'live evidence appeared beside the controls within 90 s');
      await admin.waitForTimeout(2000);
      await admin.reload();
    }
    const themes = await admin.locator('#soa tr.soa-theme').count();
    assert.equal(themes, 4, 'the four themes of Annex A head their controls');
    const controls = await admin.locator('#soa tr.soa-control').count();
    assert.equal(controls, 93, 'every Annex A control has its line');
    const logging = admin.locator('#soa tr.soa-control', { has: admin.locator('a.control-ref', { hasText: /^A\.8\.15$/ }) });
    assert.ok((await logging.textContent()).includes('ログ取得'), 'the control by its Japanese name');
    const badge = logging.locator('a.evidence-badge.evidence-audit_log_verified');
    assert.equal(await badge.count(), 1, 'the log verification is evidence for A.8.15');
    assert.ok((await badge.textContent()).includes('監査ログの検証'), 'the kind in words');
    assert.match(await badge.getAttribute('title'), /計測 \d{4}-\d\d-\d\d \d\d:\d\d JST/, 'when it was measured, in JST');
    for (const id of ['#summary-applicable', '#summary-implemented', '#summary-undecided', '#summary-problems']) {
      assert.match(await admin.locator(`${id} .number`).textContent(), /^\d+$/, `${id} counts`);
    }
    await shot(admin, 'isms-soa-ja.png');

    // A badge leads to its line on the evidence page.
    await badge.click();
    await admin.waitForURL(/\/isms\/evidence#evidence-audit_log_verified$/);
    assert.equal(await admin.locator('#evidence-audit_log_verified').count(), 1);

    // Measure now.
    await admin.click('#measure-now');
    await admin.waitForURL(/\/isms\/evidence\?measured=1$/);
    assert.ok((await admin.locator('p.notice').textContent()).includes('計測しました'), 'the measurement is confirmed');
    for (const area of ['logging', 'access_control', 'cryptography', 'endpoint', 'incident_management']) {
      assert.equal(await admin.locator(`#area-${area}`).count(), 1, `the ${area} area is shown`);
    }
    const verified = admin.locator('#evidence-audit_log_verified');
    assert.equal(await verified.locator('.evidence-status').textContent(), '合格', 'the audit log verifies');
    assert.match(await verified.locator('.evidence-figure').textContent(), /件の記録を検証済み/);
    const second = admin.locator('#evidence-privileged_second_factor');
    assert.match(await second.locator('.evidence-figure').textContent(), /^\d+ 件中 \d+ 件$/, 'a share in words');
    assert.ok((await second.locator('a.supported-control').first().textContent()).startsWith('A.8.2'), 'the Annex A controls it supports');
    await shot(admin, 'isms-evidence-ja.png');

    // The data behind it: the accounts.
    await second.locator('a.evidence-data').click();
    await admin.waitForURL(/\/admin\/users$/);
    assert.equal(await admin.locator('#user-list').count(), 1, 'the users list is the data behind it');

    // Decide an undecided control.
    await admin.goto(`${server.base}/isms/soa`);
    let undecided = admin.locator('#soa tr.soa-undecided a.control-name');
    if ((await undecided.count()) === 0) {
      await admin.goto(`${server.base}/isms/soa?catalog=urn:mamori:catalog:telework`);
      undecided = admin.locator('#soa tr.soa-undecided a.control-name');
    }
    assert.ok((await undecided.count()) > 0, 'a control is still undecided');
    await undecided.first().click();
    await admin.waitForURL(/\/isms\/controls\/urn:/);
    const url = admin.url();
    assert.equal(await admin.locator('#history-empty').count(), 1, 'nothing decided yet');
    await admin.check('#applicable-no');
    await admin.fill('#decision-justification', '');
    await admin.click('#decision-save');
    await admin.waitForSelector('#decision-error');
    const refusal = await admin.locator('#decision-error').textContent();
    assert.ok(refusal.includes('理由が必要'), `the refusal says why: ${refusal}`);
    assert.equal(await admin.locator('#applicable-no').isChecked(), true, 'what was chosen is kept');
    await shot(admin, 'isms-control-refused-ja.png');

    await admin.fill('#decision-justification', '在宅勤務を行わないため対象外とする。');
    await admin.click('#decision-save');
    await admin.waitForURL((u) => u.href.startsWith(url) && u.search === '?saved=1');
    assert.ok((await admin.locator('p.notice').textContent()).includes('第 1 版'), 'saved as version 1');
    assert.equal(await admin.locator('#current-applicable').textContent(), '除外');
    const v1 = admin.locator('#history-1');
    assert.equal(await v1.count(), 1, 'the history shows version 1');
    const line = await v1.textContent();
    assert.ok(line.includes('除外') && line.includes('在宅勤務を行わないため対象外とする。'), `version 1 in words: ${line}`);
    assert.ok(line.includes('デモセキュリティ管理者01'), `who decided, by name: ${line}`);
    assert.match(line, /\d{4}-\d\d-\d\d \d\d:\d\d JST/, 'when, in JST');
    await shot(admin, 'isms-control-ja.png');

    // The same pages in English: the same session in a browser that prefers English (the demo
    // admin has no language of their own).
    const english = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 768 } });
    await english.addCookies(await admin.context().cookies());
    const en = await english.newPage();
    en.setDefaultTimeout(20_000);
    await en.goto(`${server.base}/isms/soa`);
    assert.equal(await en.locator('h1').textContent(), 'Statement of Applicability');
    const loggingEn = en.locator('#soa tr.soa-control', { has: en.locator('a.control-ref', { hasText: /^A\.8\.15$/ }) });
    assert.ok((await loggingEn.textContent()).includes('Logging'), 'the control by its English name');
    assert.match(await loggingEn.locator('a.evidence-badge').first().getAttribute('title'), /Measured \d{4}-\d\d-\d\d \d\d:\d\d JST/);
    await shot(en, 'isms-soa-en.png');
    await en.goto(`${server.base}/isms/evidence`);
    assert.equal(await en.locator('#measure-now').textContent(), 'Measure now');
    assert.match(await en.locator('#evidence-privileged_second_factor .evidence-figure').textContent(), /^\d+ of \d+ accounts$/);
    await shot(en, 'isms-evidence-en.png');
    await en.goto(url);
    assert.ok((await en.locator('#history-1').textContent()).includes('Excluded'), 'the history in English');
    await shot(en, 'isms-control-en.png');
  } finally {
    await browser.close();
    await stopServer(server);
  }
});

test('ISMS: from the dashboard, a failing live evidence to its data; the SoA exported as PDF', { timeout: 300_000 }, async () => {
  const server = await startDemo();
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true });
  try {
    const admin = await signInDemo(browser, server.base, 'demo-admin01');

    // The dashboard lists the controls whose live evidence fails or warns; the evidence task
    // measures within seconds of the start.
    await admin.goto(`${server.base}/dashboard`);
    await admin.click('header nav a[href="/isms"]');
    await admin.waitForURL(/\/isms$/);
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (await admin.locator('#dashboard-failing li.failing-control a.evidence-problem').count()) break;
      assert.ok(Date.now() < deadline, 'a control with failing or warning evidence within 90 s');
      await admin.waitForTimeout(2000);
      await admin.reload();
    }
    const failing = admin.locator('#dashboard-failing li.failing-control').first();
    assert.match(await failing.locator('.tag').first().textContent(), /不合格|要注意/, 'the status in words');
    const failingRef = (await failing.locator('a[href^="/isms/controls/"] strong').first().textContent()).trim();
    const problem = failing.locator('a.evidence-problem').first();
    const kind = (await problem.getAttribute('href')).split('#evidence-')[1];
    assert.ok(kind, 'the evidence names its kind');
    await shot(admin, 'isms-done-dashboard-ja.png');

    // The evidence's line on the evidence page: failing or warning, with the data behind it.
    await problem.click();
    await admin.waitForURL(new RegExp(`/isms/evidence#evidence-${kind}$`));
    const line = admin.locator(`#evidence-${kind}`);
    assert.equal(await line.count(), 1, 'its line on the evidence page');
    assert.match(await line.locator('.evidence-status').textContent(), /不合格|要注意/, 'the line fails or warns');
    const data = line.locator('a.evidence-data');
    const href = await data.getAttribute('href');
    assert.ok(href && href.startsWith('/'), `the data behind ${kind} is linked`);
    await shot(admin, 'isms-done-evidence-ja.png');

    // The data behind it.
    await data.click();
    await admin.waitForURL((u) => u.pathname + u.search + u.hash === href);
    assert.notEqual(await admin.locator('h1').count(), 0, 'the data page opened');
    await shot(admin, 'isms-done-data-ja.png');

    // The SoA, exported as PDF from its page.
    await admin.goto(`${server.base}/isms`);
    await admin.click('#isms-tabs a[href="/isms/soa"]');
    await admin.waitForURL(/\/isms\/soa$/);
    assert.equal(await admin.locator('#soa-export-csv').count(), 1, 'the CSV export beside it');
    const link = admin.locator('#soa-export-pdf');
    assert.equal((await link.textContent()).trim(), 'PDF');
    await shot(admin, 'isms-done-soa-ja.png');
    const [download] = await Promise.all([admin.waitForEvent('download'), link.click()]);
    assert.match(download.suggestedFilename(), /^mamori-soa-.+\.pdf$/);
    await mkdir(ARTIFACTS, { recursive: true });
    const pdf = path.join(ARTIFACTS, 'isms-soa-ja.pdf');
    await download.saveAs(pdf);
    const bytes = await readFile(pdf);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), '%PDF', 'a PDF');
    // Cells wrap: read the text without its line breaks and spaces.
    const text = execFileSync('pdftotext', ['-raw', '-enc', 'UTF-8', pdf, '-'], { encoding: 'utf8' }).replace(/\s+/g, '');
    assert.ok(text.includes('適用宣言書'), 'the title in Japanese');
    assert.ok(text.includes('情報セキュリティのための方針群'), 'A.5.1 by its Japanese name');
    assert.ok(text.includes('ログ取得'), 'A.8.15 by its Japanese name');
    assert.ok(text.includes(failingRef), `the failing control ${failingRef} is in the PDF`);
    assert.match(text, /不合格|要注意/, 'its evidence status in words');
    assert.ok(text.includes('社外秘'), 'marked confidential');
    assert.match(text, /出力者:.*demo-admin01/, 'who exported it');
    const fonts = execFileSync('pdffonts', [pdf], { encoding: 'utf8' });
    assert.match(fonts, /IPAexGothic.*yes\s+yes\s+yes/, `the Japanese font embedded as a subset: ${fonts}`);
    execFileSync('pdftoppm', ['-png', '-r', '70', '-f', '1', '-l', '1', pdf, path.join(ARTIFACTS, 'isms-soa-pdf-ja')]);
  } finally {
    await browser.close();
    await stopServer(server);
  }
});
