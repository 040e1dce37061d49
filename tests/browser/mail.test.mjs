// Headless-browser test of the outgoing-mail pages (issue 15, item 5 — 誤送信防止) on the demo
// contact center, in Japanese and in English (screenshots in tests/browser/artifacts):
//
// - demo-op01's home page counts the mail waiting for their check;
// - demo-op01's held mail to the client company's person in charge: listed first, its check
//   page warns of the external recipient in To and of the customer's number (a supervisor must
//   approve), marks each domain internal or external, and keeps the send button shut during the
//   self-check time while cancel is open;
// - the mail password, made on the profile page and shown once with the mail program's settings;
// - the security admin's outgoing-mail rules.
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

test('outgoing mail: the held mail, its check page, the mail password and the rules', async () => {
  const server = await startDemo();
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true });
  try {
    for (const [locale, lang] of [['ja-JP', 'ja'], ['en-US', 'en']]) {
      const op = await signInDemo(browser, server.base, 'demo-op01', locale);
      const csp = [];
      op.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) csp.push(m.text()); });
      // The home page points at the mail waiting for the operator's check, raised.
      await op.goto(`${server.base}/dashboard`);
      const tile = op.locator('#home-mail-to-check');
      assert.equal((await tile.locator('.number').textContent()).trim(), '1');
      assert.match(await tile.getAttribute('class'), /raised/);
      await op.goto(`${server.base}/mail`);
      const rows = op.locator('#mail-list tbody tr');
      assert.equal(await rows.count(), 1, 'the demo holds one mail');
      assert.match(await rows.first().getAttribute('class'), /attention/, 'a held mail comes first, marked');
      await shot(op, `mail-list-${lang}.png`);
      await op.click('#mail-list a.open-mail');
      await op.waitForURL(/\/mail\/[0-9a-f-]{36}$/);
      const warnings = await op.locator('#mail-warnings li').allTextContents();
      assert.ok(warnings.some((w) => w.includes('tantou@sample-tsuhan.example.jp')), `To is warned of: ${warnings}`);
      assert.equal(await op.locator('#mail-needs-approval').count(), 1, 'customer data: a supervisor approves');
      assert.equal(await op.locator('#mail-recipients .domain-external').count(), 1);
      assert.equal(await op.locator('#mail-recipients .domain-internal').count(), 1);
      assert.ok((await op.locator('#mail-text').textContent()).includes('050-1000-0000'), 'the sender reads the text');
      // The demo's mail was held when the demo loaded: during the self-check time the button is shut.
      const waiting = await op.locator('#mail-wait').count();
      if (waiting) {
        assert.equal(await op.locator('#mail-confirm').count(), 0, 'no confirm before the delay');
      }
      assert.equal(await op.locator('#mail-cancel').count(), 1);
      await shot(op, `mail-check-${lang}.png`);

      await op.goto(`${server.base}/profile`);
      await Promise.all([op.waitForNavigation(), op.click('#mail-password-new')]);
      const password = (await op.locator('#mail-password').textContent()).trim();
      assert.match(password, /^mml_[A-Za-z0-9_-]{43}$/);
      await shot(op, `mail-password-${lang}.png`);
      assert.deepEqual(csp, [], 'no CSP violations');
      await op.context().close();
    }
    // The admin signs in once (a TOTP code is good for one sign-in) and reads the rules in
    // both languages.
    const admin = await signInDemo(browser, server.base, 'demo-admin01', 'ja-JP');
    for (const lang of ['ja', 'en']) {
      if (lang === 'en') {
        await admin.goto(`${server.base}/profile`);
        await admin.selectOption('#language', 'en');
        await Promise.all([admin.waitForNavigation(), admin.click('#language-submit')]);
      }
      await admin.goto(`${server.base}/admin/settings`);
      await Promise.all([admin.waitForNavigation(), admin.click('#mail-policy-link')]);
      assert.equal(await admin.inputValue('#internal-domains'), 'demo-center.example.jp');
      assert.equal(await admin.inputValue('#mail-delay'), '60');
      await shot(admin, `mail-policy-${lang}.png`);
    }
    await admin.context().close();
  } finally {
    await browser.close();
    await stopServer(server);
  }
});
