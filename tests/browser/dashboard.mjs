// Checks the dashboard in real headless Chromium: the pages load, show live data from the devnet, and a shock in the
// what-if form changes the shown health. Usage: node dashboard.mjs BASE_URL ACCOUNT [SCREENSHOT_DIR]
// With MIN_CHART_POINTS=n in the environment it checks instead that the account's health-over-time chart shows at
// least n points (the caller moves prices first).
import { chromium } from 'playwright-core';

const [base, account, shots] = process.argv.slice(2);
if (!base || !account) {
  console.error('usage: node dashboard.mjs BASE_URL ACCOUNT [SCREENSHOT_DIR]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async message => { console.error('dashboard: ' + message); await browser.close(); process.exit(1); };
const minPoints = Number(process.env.MIN_CHART_POINTS || 0);
try {
  const page = await browser.newPage();
  if (minPoints > 0) {
    await page.goto(`${base}/account.html?address=${account}`);
    // The page refreshes every 5 s; wait for the chart to hold the points.
    await page.waitForFunction(n => document.querySelectorAll('#history circle').length >= n, minPoints, { timeout: 30000 })
      .catch(async () => fail(`chart has ${await page.$$eval('#history circle', c => c.length)} points, expected at least ${minPoints}`));
    const points = await page.$$eval('#history circle', cs => cs.map(c => Number(c.getAttribute('cy'))));
    if (new Set(points).size < 2) await fail('chart points do not move: ' + JSON.stringify(points));
    if (!(await page.$('#history polyline'))) await fail('chart has no line');
    if (shots) await page.screenshot({ path: shots + '/account-history.png', fullPage: true });
    console.log(JSON.stringify({ chartPoints: points.length }));
    await browser.close();
    process.exit(0);
  }
  await page.goto(base + '/');
  await page.waitForFunction(() => document.querySelectorAll('#chains tbody tr').length >= 3, null, { timeout: 20000 });
  const chainRows = await page.$$eval('#chains tbody tr', rows => rows.map(r => r.innerText));
  if (!chainRows.every(r => r.includes('live'))) await fail('chains not live: ' + JSON.stringify(chainRows));
  if (shots) await page.screenshot({ path: shots + '/home.png', fullPage: true });

  await page.goto(`${base}/account.html?address=${account}`);
  await page.waitForFunction(() => document.querySelector('#headline-health').textContent !== '-', null, { timeout: 20000 });
  const methods = await page.$$eval('#methods tbody tr', rows => rows.map(r => r.dataset.method));
  for (const m of ['isolated', 'cross', 'portfolio']) if (!methods.includes(m)) await fail('method missing: ' + m);
  const positions = await page.$$eval('#positions tbody tr', rows => rows.length);
  if (positions < 2) await fail('expected positions on two chains, got ' + positions);
  const before = Number((await page.textContent('#headline-health')).replace(/,/g, ''));

  await page.fill('#shock-asset', 'ETH');
  await page.fill('#shock-spot', '-0.5');
  await page.click('#what-if button');
  await page.waitForFunction(() => document.querySelector('#what-if-health').textContent !== '-', null, { timeout: 20000 });
  const after = Number((await page.textContent('#what-if-health')).replace(/,/g, ''));
  if (shots) await page.screenshot({ path: shots + '/account.png', fullPage: true });
  if (!(after < before)) await fail(`what-if health ${after} is not below the live health ${before}`);
  console.log(JSON.stringify({ chains: chainRows.length, methods, positions, before, after }));
} catch (err) {
  await fail(String(err && err.stack || err));
}
await browser.close();
