// Headless-browser test of the first "done when" (issue 18; ISMS-8, LEAK-7), in Japanese:
// with both policy options on, a new operator cannot look customers up until the confidentiality
// pledge is acknowledged and the onboarding course passed; the refusal says why and links to
// both.
//
// Run:   bash scripts/install-test-deps.sh && cargo build -p mamori && node --test tests/browser/
//
// On the demo: the security admin turns on "lookups require onboarding" (/isms/training) and
// "lookups require the pledge" (/isms/policies), then invites a new operator for the first demo
// client (/admin/users). The new operator sets a password through the invitation link, signs in,
// and a lookup of the demo's sample number is refused naming the pledge and the onboarding
// course, with links. They acknowledge the pledge (still refused: the course alone), fail the
// quiz once (two wrong answers), pass it (the questions come in a new order each time, answered by
// their text), and the lookup works. Screenshots go to tests/browser/artifacts/training-*.png.

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
const SAMPLE_PHONE = '050-1000-0000';
const PASSWORD = 'shinjin-password-2026';

// The demo course's right answers, by question text (the order changes on every attempt).
const RIGHT = [
  [/5分だけ席を離れます/, /画面をロックし/],
  [/私物のスマートフォン/, /ロッカー/],
  [/USB メモリを拾いました/, /PC には挿さず/],
  [/メールを送る前に/, /読み上げ/],
  [/複数のお客さま/, /^BCC$/],
  [/違う相手に送ってしまった/, /すぐに SV に報告/],
];

/** Answers every question of the quiz on the page, the first `wrong` shown wrongly. */
async function answerQuiz(page, wrong) {
  const questions = await page.$$('fieldset.quiz-question');
  assert.equal(questions.length, RIGHT.length, 'six questions');
  let n = 0;
  for (const q of questions) {
    const legend = (await q.$eval('legend', (l) => l.textContent)).trim();
    const rule = RIGHT.find(([text]) => text.test(legend));
    assert.ok(rule, `a question we know: ${legend}`);
    const labels = await q.$$('label.quiz-choice');
    let picked = false;
    for (const label of labels) {
      const text = (await label.$eval('span', (s) => s.textContent)).trim();
      const right = rule[1].test(text);
      if (right !== (n < wrong)) {
        await (await label.$('input')).check();
        picked = true;
        break;
      }
    }
    assert.ok(picked, `a choice for: ${legend}`);
    n += 1;
  }
  return questions.length;
}

async function lookUp(page, base) {
  await page.goto(`${base}/workspace`);
  await page.fill('#lookup-value', SAMPLE_PHONE);
  await page.selectOption('#lookup-reason', 'callback');
  await page.fill('#lookup-reason-text', 'お約束の折り返し');
  await Promise.all([page.waitForNavigation(), page.click('#lookup-submit')]);
}

test('a new operator looks customers up only after the pledge and onboarding (Japanese)', { timeout: 300_000 }, async () => {
  let server;
  let browser;
  try {
    server = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
    await mkdir(ARTIFACTS, { recursive: true });
    const base = server.base;

    // The security admin turns both options on and invites a new operator.
    const admin = await signInDemo(browser, base, 'demo-admin01');
    await admin.goto(`${base}/isms/training`);
    assert.match(await admin.textContent('#training-overdue'), /期限切れ/, 'the demo has operators overdue');
    if (!(await admin.isChecked('#lookups-require-onboarding'))) {
      await admin.check('#lookups-require-onboarding');
      await Promise.all([admin.waitForNavigation(), admin.click('#training-option-submit')]);
    }
    assert.ok(await admin.isChecked('#lookups-require-onboarding'));
    await admin.goto(`${base}/isms/policies`);
    if (!(await admin.isChecked('#lookups-require-pledge'))) {
      await admin.check('#lookups-require-pledge');
      await Promise.all([admin.waitForNavigation(), admin.click('#option-submit')]);
    }
    await admin.goto(`${base}/admin/users`);
    await admin.fill('#invite-user-form input[name="username"]', 'shinjin01');
    await admin.fill('#invite-user-form input[name="display_name"]', '新人 一郎');
    await admin.check('#invite-user-form input[name="roles"][value="operator"]');
    const client = admin.locator('#invite-user-form label', { hasText: 'サンプル通販株式会社' }).locator('input');
    await client.check();
    await Promise.all([admin.waitForNavigation(), admin.click('#invite-user-form button[type="submit"]')]);
    const link = (await admin.textContent('#invitation-url')).trim();
    assert.match(link, /\/invite\?token=/);

    // The new operator sets a password and signs in.
    const context = await browser.newContext({ locale: 'ja-JP', viewport: { width: 1366, height: 768 } });
    const op = await context.newPage();
    op.setDefaultTimeout(20_000);
    await op.goto(link.replace(/^https?:\/\/[^/]+/, base));
    await op.fill('#password', PASSWORD);
    await op.fill('#password_again', PASSWORD);
    await Promise.all([op.waitForNavigation(), op.click('#invite-submit')]);
    if (!op.url().includes('/workspace') && !op.url().includes('/dashboard')) {
      await op.goto(`${base}/signin`);
      await op.fill('input[name="username"]', 'shinjin01');
      await op.fill('input[name="password"]', PASSWORD);
      await Promise.all([op.waitForNavigation(), op.click('button[type="submit"]')]);
    }

    // A lookup is refused, naming both things missing, with links.
    await lookUp(op, base);
    const refusal = await op.textContent('p.error');
    assert.match(refusal, /機密保持誓約書/, `the refusal names the pledge: ${refusal}`);
    assert.match(refusal, /入社時研修/, `the refusal names onboarding: ${refusal}`);
    assert.equal((await op.$$('section.customer')).length, 0, 'no customer shown');
    const needs = await op.$$eval('#lookups-need a.need-link', (as) => as.map((a) => [a.getAttribute('href'), a.textContent]));
    assert.equal(needs.length, 2, `two links: ${JSON.stringify(needs)}`);
    assert.ok(needs[0][0].startsWith('/policies/') && needs[1][0].startsWith('/training/'), JSON.stringify(needs));
    assert.match(needs[1][1], /入社時研修/);
    await op.screenshot({ path: path.join(ARTIFACTS, 'training-refused-ja.png'), fullPage: true });

    // The pledge, acknowledged through its link.
    await Promise.all([op.waitForNavigation(), op.click('#lookups-need a.need-link[href^="/policies/"]')]);
    await op.check('#acknowledge-agree');
    await Promise.all([op.waitForNavigation(), op.click('#acknowledge-submit')]);
    assert.ok(await op.$('#policy-acknowledged'), 'acknowledged');
    await lookUp(op, base);
    assert.match(await op.textContent('p.error'), /入社時研修/, 'still refused: onboarding alone');
    assert.doesNotMatch(await op.textContent('p.error'), /誓約書/);

    // The course, through its link: two wrong answers fail; all right passes.
    await Promise.all([op.waitForNavigation(), op.click('#lookups-need a.need-link[href^="/training/"]')]);
    assert.match(await op.textContent('#course-title'), /入社時研修/);
    assert.match(await op.textContent('#course-text'), /クリアデスク/);
    await answerQuiz(op, 2); // 4 of 6: 66% < 80%
    await Promise.all([op.waitForNavigation(), op.click('#quiz-submit')]);
    assert.match(await op.textContent('#quiz-result'), /不合格/);
    await answerQuiz(op, 0);
    await Promise.all([op.waitForNavigation(), op.click('#quiz-submit')]);
    assert.match(await op.textContent('#quiz-result'), /合格です/);
    assert.match(await op.textContent('#quiz-result'), /100%/);
    await op.screenshot({ path: path.join(ARTIFACTS, 'training-passed-ja.png'), fullPage: true });
    const certificate = await op.getAttribute('#result-certificate', 'href');
    const pdf = await op.request.get(`${base}${certificate}`);
    assert.equal(pdf.headers()['content-type'], 'application/pdf');

    // Now the lookup works, and nothing is owed.
    await lookUp(op, base);
    assert.equal(await op.$('p.error'), null, 'no refusal');
    assert.equal((await op.$$('section.customer')).length, 1, 'the sample customer');
    assert.equal(await op.$('#lookups-need'), null, 'nothing missing');
    await context.close();
    await admin.context().close();
  } finally {
    await browser?.close();
    await stopServer(server);
  }
});
