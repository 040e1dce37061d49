// Headless-browser test of a supervisor's remote lock on the demo contact center (issue 14).
//
// Run:   bash scripts/install-test-deps.sh && node --test tests/browser/
//
// Starts `mamori serve --demo`, signs in as the demo supervisor demo-sv01 (password and the
// published demo TOTP), opens the live floor, presses ロック on DEMO-PC-07 (an operator of their
// team), checks the confirmation names the PC and its operator, confirms, and sees the row turn
// ロック中 within five seconds without pressing reload: the demo's simulated PC takes the command
// at its next step (every two seconds) and the floor's live part, sent again by the server when
// the PC reports, shows it in place (the page is not reloaded: a mark set on it stays). Screenshots in tests/browser/artifacts: the confirmation and the
// floor in Japanese (commands-confirm-ja.png, commands-floor-ja.png) and in English
// (commands-confirm-en.png, commands-floor-en.png).

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
const PC = 'DEMO-PC-07';

test('a supervisor locks a PC of their team from the floor', { timeout: 240_000 }, async () => {
  let server;
  let browser;
  try {
    server = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
    await mkdir(ARTIFACTS, { recursive: true });
    const page = await signInDemo(browser, server.base, 'demo-sv01');
    const cspErrors = [];
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });

    // The simulated PCs are enrolled at the demo's first step.
    const row = `tr.floor-row:has(a:text-is("${PC}"))`;
    await page.goto(`${server.base}/floor`);
    await page.waitForSelector(`${row} a.floor-lock`);
    assert.equal(await page.$(`${row} .state-locked`), null, `${PC} is not locked yet`);
    await Promise.all([page.waitForNavigation(), page.click(`${row} a.floor-lock`)]);

    // The confirmation names the PC and its operator.
    assert.match(await page.textContent('#confirm-question'), /^本当に DEMO-PC-07（デモオペレーター07 \(demo\)）をロックしますか？$/);
    assert.equal((await page.textContent('#confirm-run')).trim(), '実行');
    assert.equal((await page.textContent('#confirm-cancel')).trim(), 'キャンセル');
    await page.screenshot({ path: path.join(ARTIFACTS, 'commands-confirm-ja.png'), fullPage: true });

    const sent = Date.now();
    await Promise.all([page.waitForNavigation(), page.click('#confirm-run')]);
    assert.match(page.url(), /\/floor\?device=.+&command=.+/);
    await page.evaluate(() => { window.floorMark = 'not reloaded'; });
    await page.waitForSelector(`${row} .state-locked`, { timeout: 5_000 }).catch(async (e) => {
      throw new Error(`${e.message}\n${page.url()}\n${await page.content()}`);
    });
    const seconds = (Date.now() - sent) / 1000;
    assert.ok(seconds <= 5, `locked after ${seconds} s`);
    await page.waitForSelector('#command-result:text("完了")', { timeout: 5_000 });
    assert.match(await page.textContent('#command-result'), /DEMO-PC-07 への画面ロック: 完了/);
    assert.equal((await page.textContent(`${row} .state-locked`)).trim(), 'ロック中');
    assert.equal(await page.evaluate(() => window.floorMark), 'not reloaded', 'the floor changed without a reload');
    await page.screenshot({ path: path.join(ARTIFACTS, 'commands-floor-ja.png'), fullPage: true });
    assert.deepEqual(cspErrors, [], 'no Content Security Policy violations');

    // The same in English, chosen on the profile page (the demo's accounts are set to Japanese):
    // the floor, and a message's confirmation.
    const en = page;
    await en.goto(`${server.base}/profile`);
    await en.selectOption('#language', 'en');
    await Promise.all([en.waitForNavigation(), en.click('#language-submit')]);
    await en.goto(`${server.base}/floor`);
    await en.waitForSelector(`${row} .state-locked`);
    await en.screenshot({ path: path.join(ARTIFACTS, 'commands-floor-en.png'), fullPage: true });
    await Promise.all([en.waitForNavigation(), en.click(`${row} a.floor-message`)]);
    assert.match(await en.textContent('#confirm-question'), /^Show a message on DEMO-PC-07 \(デモオペレーター07 \(demo\)\)\.$/);
    await en.screenshot({ path: path.join(ARTIFACTS, 'commands-confirm-en.png'), fullPage: true });
  } finally {
    if (browser) await browser.close();
    await stopServer(server);
  }
});
