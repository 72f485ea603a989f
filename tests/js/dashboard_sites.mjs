// Watches the dashboard's site panel in headless Chromium (playwright-core), in one page that
// stays open, so a test sees it update by itself: sign in with an API key, then for each line
// read on stdin wait until the panel (#sites) shows that text, and print one JSON line with its
// rows, the points of each row's allocation line (over time) and the page's errors so far. A
// text not shown within 20 s is printed with "timedOut": true. Ends when stdin closes.
//
// Usage: node dashboard_sites.mjs <base url> <api key>
// Env: CHARGEGATE_CHROMIUM (default /usr/bin/chromium).

import { createInterface } from 'node:readline';
import { launchBrowser, openDashboard } from './browser.mjs';
import { watch } from './watch.mjs';

const [baseUrl, key] = process.argv.slice(2);
if (!baseUrl || !key) {
    process.stderr.write('usage: dashboard_sites.mjs <base url> <api key>\n');
    process.exit(64);
}
const browser = await launchBrowser();
try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const seen = await watch(page);
    await openDashboard(page, baseUrl, key);
    await page.waitForSelector('#app:not([hidden]) #sites td', { timeout: 20000 });
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    for await (const wanted of createInterface({ input: process.stdin })) {
        let timedOut = false;
        try {
            await page.waitForFunction(
                (t) => document.getElementById('sites').innerText.includes(t),
                wanted,
                { timeout: 20000 },
            );
        } catch {
            timedOut = true;
        }
        const rows = await page.$$eval('#sites tr', (trs) =>
            trs.map((tr) => [...tr.children].map((cell) => cell.innerText)),
        );
        const points = await page.$$eval('#sites tr polyline', (lines) =>
            lines.map((line) => line.getAttribute('points').split(' ').filter(Boolean).length),
        );
        const visible = await page.isVisible('#sites');
        process.stdout.write(
            `${JSON.stringify({ wanted, timedOut, visible, rows, points, errors: seen.errors })}\n`,
        );
    }
} finally {
    await browser.close();
}
