// Headless-browser end-to-end test of the Mamori web console.
//
// Run:   bash scripts/install-test-deps.sh && node --test tests/browser/
//
// It starts its own `mamori serve` on a free loopback port with a fresh data directory, then
// drives Debian's Chromium (through playwright-core) through first-time setup, sign-in with TOTP
// enrolment, recovery codes, sign-out, sign-in with a TOTP code, the user list in Japanese and in
// English, and saves a screenshot to tests/browser/artifacts/users-en.png.
//
// Environment: MAMORI_BIN (default <repo>/target/debug/mamori), CHROMIUM_BIN (default
// /usr/bin/chromium).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { freePort, stopServer } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const MAMORI_BIN = process.env.MAMORI_BIN || path.join(REPO, 'target', 'debug', 'mamori');
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');
const SCREENSHOT = path.join(ARTIFACTS, 'users-en.png');

const USERNAME = 'admin.tanaka';
const DISPLAY_NAME = '田中 管理者';
const PASSWORD = 'correct-horse-battery-7';

const OVERALL_TIMEOUT_MS = 180_000;
const SETUP_LINK_TIMEOUT_MS = 60_000;
const NAV_TIMEOUT_MS = 20_000;

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238 over RFC 4226), written here independently of the server's implementation.

/** Decodes RFC 4648 base32 (case-insensitive; spaces, dashes and '=' padding ignored). */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const idx = alphabet.indexOf(ch);
    if (idx < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The 30-second time step of a unix time in seconds. */
export function totpStep(unixSeconds) {
  return Math.floor(unixSeconds / 30);
}

/** The 6-digit HOTP value of a base32 secret at a counter (HMAC-SHA1, dynamic truncation). */
export function hotp(secretBase32, counter) {
  const key = base32Decode(secretBase32);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary =
    ((mac[offset] & 0x7f) << 24) |
    (mac[offset + 1] << 16) |
    (mac[offset + 2] << 8) |
    mac[offset + 3];
  return String(binary % 1_000_000).padStart(6, '0');
}

const nowSeconds = () => Date.now() / 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Returns the step to compute a code for: the current one, but never one <= `after` (the server
 * refuses a step already used), and not within the last 2 s of a step, so the code reaches the
 * server in the step it was computed for.
 */
async function usableStep(after = -1) {
  for (;;) {
    const now = nowSeconds();
    const step = totpStep(now);
    const left = (step + 1) * 30 - now;
    if (step > after && left > 2) return step;
    const wait = step > after ? left : (after + 1) * 30 - now;
    await sleep(Math.ceil(wait * 1000) + 250);
  }
}

// ---------------------------------------------------------------------------------------------
// The server.

/** Starts `mamori serve` and resolves once it printed the setup link. */
async function startServer() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mamori-e2e-'));
  const port = await freePort();
  const child = spawn(
    MAMORI_BIN,
    ['serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`],
    {
      cwd: dataDir,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-20_000);
  });
  child.stdout.setEncoding('utf8');

  const setupLink = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(
        `mamori did not print a /setup?token= link within ${SETUP_LINK_TIMEOUT_MS / 1000} s\n` +
        `stdout:\n${stdout}\nstderr (tail):\n${stderr.slice(-4000)}`,
      ));
    }, SETUP_LINK_TIMEOUT_MS);
    const onData = (d) => {
      stdout += d;
      const m = stdout.match(/(https?:\/\/\S+\/setup\?token=[A-Za-z0-9_\-.~%]+)/);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.on('data', (more) => { stdout = (stdout + more).slice(-20_000); });
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${MAMORI_BIN}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(
        `mamori exited (code ${code}, signal ${signal}) before printing the setup link\n` +
        `stdout:\n${stdout}\nstderr (tail):\n${stderr.slice(-4000)}`,
      ));
    });
  });

  return {
    child,
    dataDir,
    port,
    base: `http://127.0.0.1:${port}`,
    setupLink,
    logs: () => `stdout:\n${stdout}\nstderr (tail):\n${stderr.slice(-6000)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Page helpers.

/** A short, readable snippet of the page for assertion messages. */
async function describePage(page) {
  let html = '';
  try {
    html = await page.evaluate(() => (document.querySelector('main') || document.body)?.outerHTML ?? '');
  } catch (err) {
    html = `(could not read the page: ${err.message})`;
  }
  html = html.replace(/\s+/g, ' ');
  if (html.length > 1500) html = `${html.slice(0, 1500)}…`;
  return `at ${page.url()}\n${html}`;
}

/** Waits until the page is on `pathname` (and, if given, has `search`), or fails saying where it is. */
async function expectAt(page, pathname, search, what) {
  try {
    await page.waitForURL(
      (u) => u.pathname === pathname && (search === undefined || u.search === search),
      { timeout: NAV_TIMEOUT_MS, waitUntil: 'load' },
    );
  } catch {
    assert.fail(`${what}: expected to land on ${pathname}${search ?? ''}, but the page is ${await describePage(page)}`);
  }
}

async function h1(page) {
  return (await page.locator('main h1').first().textContent())?.trim();
}

async function htmlLang(page) {
  return page.evaluate(() => document.documentElement.getAttribute('lang'));
}

// ---------------------------------------------------------------------------------------------

test('web console end to end in headless Chromium', { timeout: OVERALL_TIMEOUT_MS }, async (t) => {
  assert.ok(existsSync(MAMORI_BIN), `the mamori binary ${MAMORI_BIN} is missing: run \`cargo build --workspace --bins --tests\` or set MAMORI_BIN`);
  assert.ok(existsSync(CHROMIUM_BIN), `${CHROMIUM_BIN} is missing: run \`bash scripts/install-test-deps.sh\``);

  let server;
  let browser;
  const consoleErrors = [];
  const badResponses = [];
  const contexts = [];

  const watch = (context) => {
    context.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`${msg.location()?.url ?? '?'}: ${msg.text()}`);
    });
    context.on('weberror', (err) => consoleErrors.push(`page error: ${err.error().message}`));
    context.on('response', (resp) => {
      const type = resp.request().resourceType();
      if (resp.status() >= 400 && resp.url().startsWith(server.base)) {
        badResponses.push(`${resp.status()} ${type} ${resp.request().method()} ${resp.url()}`);
      }
    });
    contexts.push(context);
    return context;
  };

  // Runs the steps in order; once one fails, the rest are skipped rather than failing noisily.
  let failed = false;
  const step = async (name, fn) => {
    await t.test(name, async (st) => {
      if (failed) {
        st.skip('an earlier step failed');
        return;
      }
      try {
        await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    });
  };

  try {
    server = await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM_BIN,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // The main context speaks Japanese (locale ja-JP, so Accept-Language: ja-JP).
    const ctx = watch(await browser.newContext({ locale: 'ja-JP', viewport: { width: 1280, height: 900 } }));
    const page = await ctx.newPage();
    page.setDefaultTimeout(NAV_TIMEOUT_MS);

    let secret;
    let enrolStep;

    await step('TOTP implementation matches RFC 6238 test vectors', async () => {
      // RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (8-digit values; last 6 digits here).
      const seed = base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
      assert.equal(seed.toString('ascii'), '12345678901234567890', 'base32 decoder decodes the RFC 6238 seed');
      const vectors = [[59, '287082'], [1111111109, '081804'], [1111111111, '050471'],
        [1234567890, '005924'], [2000000000, '279037']];
      for (const [time, code] of vectors) {
        assert.equal(hotp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', totpStep(time)), code, `TOTP at T=${time}`);
      }
    });

    await step('first-time setup through the printed link', async () => {
      const resp = await page.goto(server.setupLink);
      assert.equal(resp?.status(), 200, `GET ${server.setupLink} should answer 200: ${await describePage(page)}`);
      assert.equal(await page.locator('#setup-form').count(), 1, `the setup page has #setup-form: ${await describePage(page)}`);
      await page.fill('#username', USERNAME);
      await page.fill('#display_name', DISPLAY_NAME);
      await page.fill('#password', PASSWORD);
      await page.fill('#password_again', PASSWORD);
      await page.click('#setup-submit');
      await expectAt(page, '/signin', '?done=setup', 'after setup');
    });

    await step('sign in with password leads to TOTP enrolment', async () => {
      await page.fill('#username', USERNAME);
      await page.fill('#password', PASSWORD);
      await page.click('#signin-submit');
      await expectAt(page, '/enrol-totp', undefined, 'a security admin without TOTP, after the password');
      secret = (await page.locator('#totp-secret').textContent())?.replace(/\s+/g, '');
      assert.match(secret ?? '', /^[A-Z2-7]{16,}=*$/, `#totp-secret shows a base32 secret: ${await describePage(page)}`);
      const qr = page.locator('.qr svg');
      assert.equal(await qr.count(), 1, `the enrolment page shows an inline svg QR code in .qr: ${await describePage(page)}`);
      assert.ok(await qr.isVisible(), 'the QR code is visible');
      const box = await qr.boundingBox();
      assert.ok(box && box.width >= 100 && box.height >= 100, `the QR code is drawn at a scannable size (got ${JSON.stringify(box)})`);
    });

    await step('enrol TOTP with a code computed in the test', async () => {
      enrolStep = await usableStep();
      const code = hotp(secret, enrolStep);
      // Cross-check against oathtool, an implementation that is neither ours nor the server's.
      try {
        const ref = execFileSync('oathtool', ['--totp', '-b', '-N', `@${enrolStep * 30 + 1}`, secret], { encoding: 'utf8' }).trim();
        assert.equal(code, ref, 'our TOTP code agrees with oathtool');
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
      await page.fill('#code', code);
      await page.click('#enrol-submit');
      await page.waitForLoadState('load');
      const codes = page.locator('#recovery-codes li');
      try {
        await codes.first().waitFor({ timeout: NAV_TIMEOUT_MS });
      } catch {
        assert.fail(`after enrolment the page should list recovery codes, but it is ${await describePage(page)}`);
      }
      assert.equal(await codes.count(), 10, `ten recovery codes are listed: ${await describePage(page)}`);
      const texts = (await codes.allTextContents()).map((s) => s.trim());
      assert.equal(new Set(texts).size, 10, `the recovery codes are all different: ${texts.join(', ')}`);
      for (const c of texts) assert.ok(c.length >= 8, `recovery code ${JSON.stringify(c)} is not trivially short`);
      await page.click('#recovery-continue');
      await expectAt(page, '/dashboard', undefined, 'after the recovery codes');
    });

    await step('sign out from the header', async () => {
      const signout = page.locator('header #signout');
      assert.equal(await signout.count(), 1, `the header has a #signout button: ${await describePage(page)}`);
      await signout.click();
      await expectAt(page, '/signin', '?done=signed_out', 'after signing out');
      const resp = await page.goto(`${server.base}/dashboard`);
      assert.equal(new URL(page.url()).pathname, '/signin', `after sign-out /dashboard sends to /signin (status ${resp?.status()}): ${await describePage(page)}`);
    });

    await step('sign in again with password and a TOTP code from a later time step', async () => {
      if (new URL(page.url()).pathname !== '/signin') await page.goto(`${server.base}/signin`);
      await page.fill('#username', USERNAME);
      await page.fill('#password', PASSWORD);
      await page.click('#signin-submit');
      await expectAt(page, '/signin/totp', undefined, 'an enrolled user, after the password');
      // The server refuses a code from a step already used (replay protection): wait for a later one.
      const signinStep = await usableStep(enrolStep);
      assert.ok(signinStep > enrolStep, 'the sign-in code is from a later step than the enrolment code');
      await page.fill('#code', hotp(secret, signinStep));
      await page.click('#totp-submit');
      await expectAt(page, '/dashboard', undefined, 'after the TOTP code');
    });

    await step('user list in Japanese (Accept-Language ja)', async () => {
      const resp = await page.goto(`${server.base}/admin/users`);
      assert.equal(resp?.status(), 200, `GET /admin/users answers 200: ${await describePage(page)}`);
      const row = page.locator('#user-list tbody tr', { hasText: USERNAME });
      assert.equal(await row.count(), 1, `#user-list lists ${USERNAME}: ${await describePage(page)}`);
      assert.ok((await row.textContent()).includes(DISPLAY_NAME), `the row shows the display name ${DISPLAY_NAME}`);
      assert.equal(await h1(page), 'ユーザー', 'with Accept-Language ja the <h1> is ユーザー');
      assert.equal(await htmlLang(page), 'ja', 'with Accept-Language ja, <html lang="ja">');
    });

    await step('user list in English (Accept-Language en, same session)', async () => {
      const state = await ctx.storageState();
      const en = watch(await browser.newContext({ locale: 'en-US', storageState: state, viewport: { width: 1280, height: 900 } }));
      try {
        const p = await en.newPage();
        const resp = await p.goto(`${server.base}/admin/users`);
        assert.equal(resp?.status(), 200, `GET /admin/users (en-US) answers 200: ${await describePage(p)}`);
        assert.equal(await h1(p), 'Users', `with Accept-Language en-US the <h1> is Users: ${await describePage(p)}`);
        assert.equal(await htmlLang(p), 'en', 'with Accept-Language en-US, <html lang="en">');
      } finally {
        await en.close();
      }
    });

    await step('profile language setting en overrides Accept-Language ja', async () => {
      const resp = await page.goto(`${server.base}/profile`);
      assert.equal(resp?.status(), 200, `GET /profile answers 200: ${await describePage(page)}`);
      assert.equal(await page.locator('#language-form').count(), 1, `the profile has #language-form: ${await describePage(page)}`);
      await page.selectOption('#language', 'en');
      await page.click('#language-submit');
      await page.waitForLoadState('load');
      assert.ok(!(await page.locator('main .error').count()), `saving the language shows no error: ${await describePage(page)}`);

      const again = await page.goto(`${server.base}/admin/users`);
      assert.equal(again?.status(), 200, `GET /admin/users answers 200: ${await describePage(page)}`);
      assert.equal(await h1(page), 'Users', `with the profile language en (browser still ja) the <h1> is Users: ${await describePage(page)}`);
      assert.equal(await htmlLang(page), 'en', 'with the profile language en, <html lang="en">');
      assert.equal(await page.locator('#user-list tbody tr', { hasText: USERNAME }).count(), 1, `#user-list lists ${USERNAME}`);
    });

    await step('screenshot of the English user list', async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      const { size } = await stat(SCREENSHOT);
      assert.ok(size > 5_000, `the screenshot ${SCREENSHOT} is a real image (${size} bytes)`);
    });

    await step('audit log: entries, search, the public key, a signed checkpoint, CSV export', async () => {
      let resp;
      for (let i = 0; i < 20; i++) {
        resp = await page.goto(`${server.base}/audit?action=session.start`);
        if (await page.locator('#audit-checkpoint').count()) break;
        await page.waitForTimeout(250);
      }
      assert.equal(resp?.status(), 200, `GET /audit answers 200: ${await describePage(page)}`);
      const rows = await page.locator('table.audit tbody tr').count();
      assert.ok(rows >= 2, `the search lists the sign-ins (${rows} rows): ${await describePage(page)}`);
      const key = (await page.locator('#audit-public-key').textContent()).trim();
      assert.match(key, /^mamori\/[0-9a-f]{16}\+[0-9a-f]{8}\+/, `the public key is shown: ${key}`);
      const note = await page.locator('#audit-checkpoint').textContent();
      assert.ok(note.startsWith(key.split('+')[0] + '\n'), `the checkpoint is a signed note of this log: ${note}`);
      const href = await page.locator('#audit-export-csv').getAttribute('href');
      const csv = await page.request.get(`${server.base}${href}`);
      assert.equal(csv.status(), 200, `the CSV export answers 200 (${href})`);
      assert.match(csv.headers()['content-type'], /^text\/csv/);
      const text = await csv.text();
      assert.ok(text.startsWith('index,time_jst,category,action,actor,actor_name'), `CSV header: ${text.slice(0, 80)}`);
      assert.match(text, /\+09:00,/, 'times in Japan time, with the offset');
      assert.ok(text.includes(',session.start,'), 'the CSV holds the searched entries');
    });

    await step('no Content Security Policy errors in the browser console', async () => {
      const csp = consoleErrors.filter((m) => /Content Security Policy/i.test(m));
      assert.deepEqual(csp, [], `console errors about CSP:\n${csp.join('\n')}`);
    });

    await step('no unexpected error responses from the server', async () => {
      assert.deepEqual(badResponses, [], `responses with status >= 400:\n${badResponses.join('\n')}`);
    });
  } catch (err) {
    if (server) err.message += `\n--- server output ---\n${server.logs()}`;
    throw err;
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
    if (browser) await browser.close().catch(() => {});
    await stopServer(server);
    if (failed && server) for (const line of server.logs().split('\n')) t.diagnostic(line);
    for (const m of consoleErrors) t.diagnostic(`browser console error: ${m}`);
  }
});
