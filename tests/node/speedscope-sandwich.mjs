// Loads a profile (Chrome trace JSON or folded stacks) into the speedscope app of its npm package,
// served from a local port to headless Chromium, and prints the rows of its Sandwich view as
// JSON, as speedscope shows them: [{ "name": "main", "total": "1.23ms", "self": "4.56µs" }].
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const profile = process.argv[2];
const require = createRequire(import.meta.url);
const app = join(dirname(require.resolve('speedscope/package.json')), 'dist', 'release');

const server = createServer((request, response) => {
  const path = new URL(request.url, 'http://localhost').pathname;
  try {
    response.end(readFileSync(path === '/profile' ? profile : join(app, path)));
  } catch {
    response.statusCode = 404;
    response.end();
  }
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 2000 } });
  await page.goto(`${base}/index.html#profileURL=${encodeURIComponent(base + '/profile')}&view=sandwich`);
  // The rows are a table below the header's; the header row has th cells only.
  await page.waitForSelector('tr td', { timeout: 60000 });
  const rows = await page.$$eval('tr', trs => trs
    .map(tr => Array.from(tr.querySelectorAll('td'), td => td.textContent.trim()))
    .filter(cells => cells.length === 3)
    .map(([total, self, name]) => ({ name, total: total.replace(/ \(.*\)$/, ''), self: self.replace(/ \(.*\)$/, '') })));
  console.log(JSON.stringify(rows));
} finally {
  await browser.close();
  server.close();
}
