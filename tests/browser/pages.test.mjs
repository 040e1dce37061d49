// Headless-browser test of the console pages of issue 14, items 8 and 9, on the demo contact
// center, in Japanese and in English (screenshots in tests/browser/artifacts):
//
// - the operator reveals a value and keeps the customer card with its note field (item 8);
//   the active call is listed by the caller's number, masked;
// - the security admin's CSV import: a dry run lists the problems in words, writes nothing;
// - the data-subject request pages: the person found by phone, the disclosure report, the
//   erasure's confirmation;
// - a home worker's shifts and networks, the forms filled.
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

async function signIn(browser, base, user, locale) {
  const page = await signInDemo(browser, base, user, locale);
  page.cspErrors = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) page.cspErrors.push(m.text()); });
  return page;
}

async function shot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

/** The operator looks demo customer 00000 up with a reason and reveals the phone number. */
async function revealKeepsTheCard(page, base, lang) {
  await page.goto(`${base}/workspace`);
  await page.fill('#lookup-value', '050-1000-0000');
  await page.selectOption('#lookup-reason', 'callback');
  await page.fill('#lookup-reason-text', lang === 'ja' ? 'お約束の折り返し' : 'promised call back');
  await Promise.all([page.waitForNavigation(), page.click('#lookup-submit')]);
  assert.equal((await page.$$('section.customer')).length, 1, `demo customer 00000: ${await page.textContent('main')}`);
  const masked = await page.textContent('section.customer tr[data-field="phones"] td.value');
  assert.match(masked, /^\*\*\*-\*\*\*\*-0000$/, 'the phone masked');
  await page.selectOption('form.reveal select[name="field"]', 'phones');
  await page.selectOption('form.reveal select[name="reason_code"]', 'callback');
  await page.fill('form.reveal input[name="reason_text"]', lang === 'ja' ? '番号の確認のため' : 'to confirm the number');
  await Promise.all([page.waitForNavigation(), page.click('button.reveal-submit')]);
  // The card stays, with the value in its row, the note field and the lookup form as it was.
  assert.equal((await page.$$('section.customer')).length, 1, 'the card is still there');
  assert.equal(await page.textContent('section.customer tr.revealed #revealed-value'), '+815010000000');
  assert.equal(await page.textContent('section.customer tr.revealed span.mask-revealed'), lang === 'ja' ? '表示中' : 'Revealed');
  assert.ok(await page.$('section.customer form.note input[name="text"]'), 'the note field');
  assert.equal(await page.inputValue('#lookup-value'), '050-1000-0000', 'the lookup as it was');
  assert.ok(!page.url().includes('050'), 'nothing in the URL');
  await page.fill('section.customer form.note input[name="text"]', lang === 'ja' ? '折り返し済み' : 'called back');
}

test('issue 14 items 8 and 9: the card stays, and the admin pages', { timeout: 300_000 }, async () => {
  let server;
  let browser;
  try {
    server = await startDemo();
    const base = server.base;
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });

    // The operator, in Japanese: the active call by the caller's masked number, then a reveal.
    const op = await signIn(browser, base, 'demo-op01', 'ja-JP');
    await op.goto(`${base}/workspace`);
    let caller = null;
    for (let i = 0; i < 15 && !caller; i += 1) {
      caller = await op.$('#active-calls td.caller');
      if (!caller) {
        await new Promise((r) => setTimeout(r, 1000));
        await op.reload();
      }
    }
    assert.ok(caller, `no active call appeared for demo-op01\n${server.logs()}`);
    assert.match(await caller.textContent(), /^\*\*\*-\*\*\*\*-\d{4}$/, 'the caller masked like a card');
    assert.equal(await op.textContent('#active-calls th:first-child'), '発信者');
    await revealKeepsTheCard(op, base, 'ja');
    await shot(op, 'workspace-reveal-ja.png');
    assert.deepEqual(op.cspErrors, [], 'no Content Security Policy violations');
    const opEn = await signIn(browser, base, 'demo-op01', 'en-US');
    await revealKeepsTheCard(opEn, base, 'en');
    await shot(opEn, 'workspace-reveal-en.png');

    // The security admin, in Japanese: from the field policy page to the customer pages.
    const admin = await signIn(browser, base, 'demo-admin01', 'ja-JP');
    await admin.goto(`${base}/admin/vault-policy`);
    await Promise.all([admin.waitForNavigation(), admin.click('#customers-link')]);
    await Promise.all([admin.waitForNavigation(), admin.click('#import-link')]);
    assert.equal(await admin.textContent('h1'), '顧客データの取り込み（CSV）');
    const csv = 'name_kanji,phones,email\n佐藤花子,090-1111-2222,hanako@example.jp\n鈴木一郎,12345,\n,,\n';
    const dryRun = async () => {
      await admin.selectOption('#import-client', { index: 1 });
      await admin.setInputFiles('#import-file', { name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await Promise.all([admin.waitForNavigation(), admin.click('#import-check')]);
      return admin.$$eval('#import-problems li', (items) => items.map((li) => li.textContent));
    };
    const problems = await dryRun();
    assert.deepEqual(problems, [
      '3行目（電話番号）: 電話番号の形式ではありません。0から始まる10〜11桁、または+と国番号から書いてください。',
      '4行目（氏名）: 氏名（漢字またはカナ）が必要です。',
    ]);
    assert.match(await admin.textContent('#import-summary'), /何も取り込まれていません/);
    await shot(admin, 'import-dry-run-ja.png');
    assert.deepEqual(admin.cspErrors, [], 'no Content Security Policy violations');

    // A data-subject request: the person found by phone, the report, the erasure's question.
    await admin.goto(`${base}/admin/customers`);
    await admin.fill('#request-ref', 'DSR-2026-0042');
    await admin.fill('#find-value', '050-1000-0000');
    await Promise.all([admin.waitForNavigation(), admin.click('#find-submit')]);
    assert.equal((await admin.$$('tr.subject-match')).length, 1);
    await shot(admin, 'customers-ja.png');
    await Promise.all([admin.waitForNavigation(), admin.click('tr.subject-match button.disclose')]);
    assert.match(await admin.textContent('#disclosed-fields'), /\+815010000000/);
    assert.match(await admin.textContent('#disclosure-accesses'), /開示等の請求への対応/);
    await shot(admin, 'disclosure-ja.png');
    await Promise.all([admin.waitForNavigation(), admin.click('a.button.danger')]);
    assert.match(await admin.textContent('#confirm-question'), /DSR-2026-0042/);
    await shot(admin, 'erase-confirm-ja.png');
    await Promise.all([admin.waitForNavigation(), admin.click('#confirm-cancel')]);

    // A home worker's shifts and networks, from the user's page.
    await admin.goto(`${base}/admin/users`);
    await Promise.all([admin.waitForNavigation(), admin.click('text=demo-op01')]);
    await Promise.all([admin.waitForNavigation(), admin.click('#roster-link')]);
    // The form is filled with the demo's shifts (every day); make it two shifts a week.
    assert.ok(await admin.isChecked('input[name="days.0"][value="sun"]'), 'the form filled with what is in force');
    for (const d of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']) {
      await admin.setChecked(`input[name="days.0"][value="${d}"]`, !['sat', 'sun'].includes(d));
    }
    await admin.fill('input[name="start.0"]', '09:00');
    await admin.fill('input[name="end.0"]', '18:00');
    await admin.check('input[name="days.1"][value="sat"]');
    await admin.fill('input[name="start.1"]', '10:00');
    await admin.fill('input[name="end.1"]', '15:00');
    await Promise.all([admin.waitForNavigation(), admin.click('#save-shifts')]);
    assert.match(await admin.textContent('#shifts-in-force'), /月〜金 09:00–18:00/);
    assert.match(await admin.textContent('#shifts-in-force'), /土 10:00–15:00/);
    await admin.fill('#networks', '203.0.113.0/24\n10.9.0.0/33');
    await Promise.all([admin.waitForNavigation(), admin.click('#save-networks')]);
    assert.match(await admin.textContent('#roster-problems'), /2行目: 「10.9.0.0\/33」はCIDR形式のネットワークではありません/);
    await admin.fill('#networks', '203.0.113.0/24');
    await Promise.all([admin.waitForNavigation(), admin.click('#save-networks')]);
    assert.equal(await admin.inputValue('#networks'), '203.0.113.0/24');
    await shot(admin, 'roster-ja.png');
    const roster = admin.url().split('?')[0];

    // The same pages in English (the admin's language set on the profile page).
    await admin.goto(`${base}/profile`);
    await admin.selectOption('#language', 'en');
    await Promise.all([admin.waitForNavigation(), admin.click('#language-form button[type="submit"]')]);
    await admin.goto(roster);
    assert.match(await admin.textContent('#shifts-in-force'), /Mon–Fri 09:00–18:00/);
    await shot(admin, 'roster-en.png');
    await admin.goto(`${base}/admin/customers/import`);
    const problemsEn = await dryRun();
    assert.match(problemsEn[0], /^Line 3 \(Phone numbers\): not a phone number/);
    await shot(admin, 'import-dry-run-en.png');
    await admin.goto(`${base}/admin/customers`);
    await admin.fill('#request-ref', 'DSR-2026-0042');
    await admin.fill('#find-value', '050-1000-0000');
    await Promise.all([admin.waitForNavigation(), admin.click('#find-submit')]);
    await Promise.all([admin.waitForNavigation(), admin.click('tr.subject-match button.disclose')]);
    await shot(admin, 'disclosure-en.png');
  } finally {
    await browser?.close();
    await stopServer(server);
  }
});
