// Accessibility (issue 14): axe-core, run inside the browser, over every console page each demo
// role can open, in Japanese. No serious or critical violation may remain.
//
// Run:   bash scripts/install-test-deps.sh && node --test tests/browser/
//
// The pages are the console's GET routes from the generated route table (docs/authorization.md),
// with a demo PC's and a demo user's id where a route takes one. axe-core is evaluated through
// the DevTools protocol (the console's CSP rightly refuses an injected script tag, and the check
// must not weaken it). A summary of every violation found, serious or not, is written to
// tests/browser/artifacts/a11y.json.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { signInDemo, startDemo, stopServer } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');
const AXE_SOURCE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The console's GET pages, from the route table the tests keep equal to the router. */
async function consolePages() {
  const table = await readFile(path.join(REPO, 'docs', 'authorization.md'), 'utf8');
  const pages = [...table.matchAll(/^\| GET \| `([^`]+)` \|/gm)].map((m) => m[1]);
  return pages.filter((p) => !p.startsWith('/api/') && !p.startsWith('/static/') && !p.endsWith('/stream')
    && !['/', '/healthz', '/readyz', '/metrics'].includes(p) && !p.startsWith('/signin') && !p.startsWith('/setup')
    && !p.startsWith('/invite') && !p.startsWith('/enrol-totp'));
}

async function axeViolations(page) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}

test('no serious or critical accessibility violation on any console page', { timeout: 600_000 }, async () => {
  let server;
  let browser;
  try {
    server = await startDemo();
    browser = await chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox'] });
    await mkdir(ARTIFACTS, { recursive: true });
    const pages = await consolePages();
    assert.ok(pages.length > 20, `the route table lists the console (${pages.length} pages)`);
    const report = [];
    const serious = [];
    let checked = 0;
    for (const user of ['demo-admin01', 'demo-sv01', 'demo-auditor01', 'demo-op01']) {
      const page = await signInDemo(browser, server.base, user);
      // Ids for routes that take one: a PC on the ledger, a user on the user list.
      await page.goto(`${server.base}/devices`);
      const device = await page.$eval('#device-ledger a[href^="/devices/"]', (a) => a.getAttribute('href').split('/')[2]).catch(() => null);
      await page.goto(`${server.base}/admin/users`);
      const person = await page.$eval('#user-list a[href^="/admin/users/"]', (a) => a.getAttribute('href').split('/')[3]).catch(() => null);
      for (const pattern of pages) {
        if (pattern.includes('{id}') && !(pattern.startsWith('/devices/') ? device : person)) continue;
        const url = pattern.replace('{id}', pattern.startsWith('/devices/') ? device : person);
        const response = await page.goto(`${server.base}${url}`);
        if (!response || response.status() !== 200 || !(response.headers()['content-type'] || '').startsWith('text/html')) continue;
        checked += 1;
        for (const v of await axeViolations(page)) {
          report.push({ user, url, ...v });
          if (v.impact === 'serious' || v.impact === 'critical') serious.push(`${user} ${url}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.join(', ')}`);
        }
      }
    }
    await writeFile(path.join(ARTIFACTS, 'a11y.json'), JSON.stringify(report, null, 2));
    assert.ok(checked > 30, `pages checked: ${checked}`);
    assert.deepEqual(serious, [], `serious or critical violations:\n${serious.join('\n')}`);
  } finally {
    if (browser) await browser.close();
    await stopServer(server);
  }
});
