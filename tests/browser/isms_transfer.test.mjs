// Headless-browser test of the registers' import and export page (issue 17, item 9) on the demo
// contact center, in Japanese and in English (screenshots in tests/browser/artifacts):
//
// - the demo security admin downloads every register as one Excel workbook, and checks it back
//   (a dry run): every row is unchanged;
// - downloads the vendors as CSV, renames one in the file, checks it (one change, nothing
//   written), imports it, and the vendor list shows the new name;
// - a CSV with a bad cell is refused whole, the problem named by sheet, row and column.
//
// Run:   cargo build -p mamori && bash scripts/install-test-deps.sh && node --test tests/browser/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
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

async function download(page, selector, dir) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const to = path.join(dir, file.suggestedFilename());
  await file.saveAs(to);
  return to;
}

/** Uploads `file` with the given mode (`check` or `import`) and waits for the answer. */
async function upload(page, file, register, mode) {
  await page.setInputFiles('#transfer-file', file);
  await page.selectOption('#transfer-register', register);
  await Promise.all([page.waitForNavigation(), page.click(mode === 'check' ? '#transfer-check' : '#transfer-run')]);
}

test('ISMS registers: exported as Excel and CSV, checked and imported back', { timeout: 300_000 }, async () => {
  const server = await startDemo();
  const browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true });
  const dir = path.join(os.tmpdir(), `mamori-transfer-${process.pid}`);
  await mkdir(dir, { recursive: true });
  try {
    const admin = await signInDemo(browser, server.base, 'demo-admin01');
    await admin.goto(`${server.base}/isms`);
    await Promise.all([admin.waitForNavigation(), admin.click('#isms-tabs a[href="/isms/registers"]')]);
    assert.equal(await admin.locator('h1').textContent(), '台帳のインポート・エクスポート');

    // The whole workbook, checked back: nothing would change.
    const xlsx = await download(admin, '#export-xlsx', dir);
    const bytes = await readFile(xlsx);
    assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'an XLSX file is a ZIP');
    await upload(admin, xlsx, '', 'check');
    assert.equal(await admin.locator('#transfer-counted h2').textContent(), '確認しました（まだ書き込んでいません）');
    const counts = await admin.locator('#transfer-counts tbody tr').evaluateAll((rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    assert.equal(counts.length, 9, 'every register');
    for (const [name, created, changed] of counts) {
      assert.deepEqual([created, changed], ['0', '0'], `${name}: nothing would change`);
    }
    await shot(admin, 'isms-transfer-checked-ja.png');

    // One register as CSV, a vendor renamed in the file.
    const csvPath = await download(admin, '#export-csv-vendors', dir);
    const csv = (await readFile(csvPath, 'utf8'));
    assert.ok(csv.startsWith('\ufeffid,name,parent,clients'), csv.slice(0, 80));
    const firstVendor = csv.split('\n')[1].split(',')[1];
    const renamed = path.join(dir, 'vendors-renamed.csv');
    await writeFile(renamed, csv.replace(firstVendor, `${firstVendor}（新社名）`));
    await upload(admin, renamed, 'vendors', 'check');
    const vendorCounts = await admin.locator('#transfer-counts tbody tr td').allTextContents();
    assert.deepEqual(vendorCounts.slice(1, 3), ['0', '1'], 'one vendor would change');
    await upload(admin, renamed, 'vendors', 'import');
    assert.equal(await admin.locator('#transfer-counted h2').textContent(), '取り込みました');
    await admin.goto(`${server.base}/isms/vendors`);
    assert.ok((await admin.locator('#vendors').textContent()).includes(`${firstVendor}（新社名）`));

    // A bad cell: refused whole, the place named.
    await admin.goto(`${server.base}/isms/registers`);
    const bad = path.join(dir, 'vendors-bad.csv');
    const lines = csv.split('\n');
    const cells = lines[1].split(',');
    cells[6] = '2027-02-30';
    lines[1] = cells.join(',');
    await writeFile(bad, lines.join('\n'));
    await upload(admin, bad, 'vendors', 'import');
    const problem = await admin.locator('#transfer-refused li.transfer-problem').first().textContent();
    assert.match(problem, /^委託先 シート 2 行目 G 列（review_on）: /, problem);
    await shot(admin, 'isms-transfer-refused-ja.png');

    // English.
    const english = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 768 } });
    await english.addCookies(await admin.context().cookies());
    const en = await english.newPage();
    en.setDefaultTimeout(20_000);
    await en.goto(`${server.base}/isms/registers`);
    assert.equal(await en.locator('h1').textContent(), 'Import and export of the registers');
    await upload(en, bad, 'vendors', 'check');
    assert.match(await en.locator('#transfer-refused li.transfer-problem').first().textContent(), /^Vendors sheet, row 2, column G \(review_on\): /);
    await shot(en, 'isms-transfer-refused-en.png');
    await en.goto(`${server.base}/isms/registers`);
    await shot(en, 'isms-transfer-en.png');
  } finally {
    await browser.close();
    await stopServer(server);
  }
});
