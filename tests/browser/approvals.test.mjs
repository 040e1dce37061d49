// Headless-browser test of the approvals inbox (issue 15, item 8): the demo holds a pending
// print by demo-op01; the operator keeps their inbox open; the supervisor demo-sv01 approves it
// with a fresh authenticator code (a step-up on the spot); the operator's page shows it approved
// without being reloaded, and downloads the watermarked PDF once (checked with pdftotext,
// rendered with pdftoppm). Artefacts: approvals-sv-ja.png, approvals-op-ja.png,
// print-approved-ja.pdf and print-approved-ja-1.png.
//
// Run:   bash scripts/install-test-deps.sh && node --test tests/browser/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { MAMORI_BIN, signInDemo, startDemo, stopServer } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');
const code = () => execFileSync(MAMORI_BIN, ['demo-totp'], { encoding: 'utf8' }).trim();

test('a supervisor approves a print; the operator sees it without reloading', { timeout: 240_000 }, async () => {
  let server;
  let browser;
  try {
    server = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
    await mkdir(ARTIFACTS, { recursive: true });
    const op = await signInDemo(browser, server.base, 'demo-op01');
    await op.goto(`${server.base}/approvals`);
    const mine = '#my-approvals tbody tr';
    assert.match(await op.textContent(mine), /印刷/);
    assert.match(await op.textContent(mine), /判断待ち/);
    await op.evaluate(() => { window.inboxMark = 'not reloaded'; });

    // The sign-in used the code of a step between these two (a step may turn meanwhile).
    const before = code();
    const sv = await signInDemo(browser, server.base, 'demo-sv01');
    const after = code();
    await sv.goto(`${server.base}/approvals`);
    const card = 'section.approval';
    assert.match(await sv.textContent(card), /デモオペレーター01/);
    assert.match(await sv.textContent(card), /顧客シート/);
    await sv.screenshot({ path: path.join(ARTIFACTS, 'approvals-sv-ja.png'), fullPage: true });
    // A step-up needs a code of a later 30-second step than the one used to sign in.
    let fresh = code();
    for (let i = 0; i < 35 && (fresh === before || fresh === after); i++) {
      await sv.waitForTimeout(1000);
      fresh = code();
    }
    await sv.fill(`${card} input[name="code"]`, fresh);
    await sv.fill(`${card} input[name="comment"]`, '確認しました');
    await Promise.all([sv.waitForNavigation(), sv.click(`${card} button.approve`)]);
    assert.match(await sv.textContent('p.notice'), /承認しました/);

    await op.waitForSelector('#my-approvals .approval-granted', { timeout: 5_000 });
    assert.equal(await op.evaluate(() => window.inboxMark), 'not reloaded', 'the inbox updated in place');
    assert.match(await op.textContent(mine), /確認しました/);
    await op.screenshot({ path: path.join(ARTIFACTS, 'approvals-op-ja.png'), fullPage: true });

    // The operator downloads the watermarked sheet, once.
    const [download] = await Promise.all([op.waitForEvent('download'), op.click('#my-approvals button.print-download')]);
    const pdf = path.join(ARTIFACTS, 'print-approved-ja.pdf');
    await download.saveAs(pdf);
    const id = (await op.getAttribute('#my-approvals tbody tr', 'id')).replace('mine-', '');
    const text = execFileSync('pdftotext', [pdf, '-'], { encoding: 'utf8' });
    assert.match(text, new RegExp(id), 'the request id on the sheet');
    assert.match(text, /demo-op01/, 'who printed it');
    assert.match(text, /デモ顧客/, 'the Japanese name');
    execFileSync('pdftoppm', ['-png', '-r', '70', '-f', '1', '-l', '1', pdf, path.join(ARTIFACTS, 'print-approved-ja')]);
    await op.goto(`${server.base}/approvals`);
    assert.match(await op.textContent(mine), /使用済み/);
  } finally {
    if (browser) await browser.close();
    await stopServer(server);
  }
});
