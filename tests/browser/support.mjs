// Shared by the browser tests: a free loopback port, starting `mamori serve --demo` and stopping
// a server they started.
// (Not a test file: node --test runs only files named *.test.mjs.)

import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAMORI_BIN = process.env.MAMORI_BIN || path.join(REPO, 'target', 'debug', 'mamori');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited within 10 s; then removes the data directory. */
export async function stopServer(server) {
  if (!server) return;
  const { child } = server;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await rm(server.dataDir, { recursive: true, force: true });
}

/** Starts `mamori serve --demo` on a free port with a data directory of its own. */
export async function startDemo() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mamori-demo-e2e-'));
  const port = await freePort();
  const child = spawn(MAMORI_BIN, ['serve', '--demo', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
    cwd: dataDir,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { output = (output + d).slice(-20_000); });
  child.stdout.setEncoding('utf8');
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start within 120 s\n${output}`)), 120_000);
    child.stdout.on('data', (d) => {
      output = (output + d).slice(-20_000);
      if (output.includes('Demo contact center loaded')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mamori exited (${code}) before the demo was loaded\n${output}`));
    });
  });
  return { child, dataDir, base: `http://127.0.0.1:${port}`, logs: () => output };
}

/**
 * A new page signed in as a demo user (password, then the published demo TOTP for roles that
 * need it), in a browser context of the given locale and a 1366×768 screen.
 */
export async function signInDemo(browser, base, username, locale = 'ja-JP') {
  const context = await browser.newContext({ locale, viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${base}/signin`);
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', 'mamori-demo-2026');
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  if (page.url().includes('/signin/totp')) {
    const { execFileSync } = await import('node:child_process');
    const code = execFileSync(MAMORI_BIN, ['demo-totp'], { encoding: 'utf8' }).trim();
    await page.fill('#code', code);
    await Promise.all([page.waitForNavigation(), page.click('#totp-submit')]);
  }
  return page;
}
