// Drives chargegate's operator dashboard in headless Chromium (playwright-core, Debian's
// chromium), the way an operator would: sign in with an API key, wait for live data, take a
// screenshot. Prints one JSON line with what the page showed and did (see watch.mjs); it asserts
// nothing itself.
//
// Usage: node dashboard_check.mjs <base url> <api key> <screenshot.png> [wait for text]
// Env: CHARGEGATE_CHROMIUM (default /usr/bin/chromium).

import { launchBrowser, openDashboard } from './browser.mjs';
import { framed, policyReport, watch } from './watch.mjs';

const [baseUrl, key, screenshot, waitFor] = process.argv.slice(2);
if (!baseUrl || !key || !screenshot) {
    process.stderr.write('usage: dashboard_check.mjs <base url> <api key> <screenshot.png> [text]\n');
    process.exit(64);
}
const browser = await launchBrowser();
try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const seen = await watch(page);
    await openDashboard(page, baseUrl, key);
    const signedIn = await Promise.race([
        page.waitForSelector('#app:not([hidden]) #chargers td', { timeout: 10000 }).then(() => true),
        page.waitForSelector('#login-error:not(:empty)', { timeout: 10000 }).then(() => false),
    ]);
    if (signedIn && waitFor) {
        await page.waitForFunction((t) => document.body.innerText.includes(t), waitFor, {
            timeout: 10000,
        });
    }
    await page.screenshot({ path: screenshot, fullPage: true });
    const read = (selector) => page.$$eval(selector, (rows) => rows.map((r) => r.innerText));
    // Rendered and on screen, not merely present in the DOM.
    const visible = {};
    for (const id of ['login', 'login-error', 'chargers', 'open', 'failures', 'chart']) {
        visible[id] = await page.isVisible(`#${id}`);
    }
    const policy = await policyReport(page);
    process.stdout.write(
        `${JSON.stringify({
            signedIn,
            visible,
            loginError: await page.textContent('#login-error'),
            chargers: signedIn ? await read('#chargers tr') : [],
            open: signedIn ? await read('#open tr') : [],
            failures: signedIn ? await read('#failures tr') : [],
            bars: signedIn ? await page.$$eval('#chart rect', (bars) => bars.length) : 0,
            tallBars: signedIn
                ? await page.$$eval('#chart rect', (bars) =>
                      bars.filter((b) => Number(b.getAttribute('height')) > 0).length,
                  )
                : 0,
            ...policy,
            requests: seen.requests,
            errors: seen.errors,
            framed: await framed(browser, `${baseUrl}/dashboard`),
        })}\n`,
    );
} finally {
    await browser.close();
}
