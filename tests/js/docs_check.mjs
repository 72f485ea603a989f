// Opens chargegate's /1.2/docs in headless Chromium (playwright-core, Debian's chromium) and waits
// until Swagger UI has drawn the API's operations. Prints one JSON line with what the page showed
// and did (see watch.mjs); it asserts nothing itself.
//
// Usage: node docs_check.mjs <base url> <screenshot.png>
// Env: CHARGEGATE_CHROMIUM (default /usr/bin/chromium).

import { launchBrowser } from './browser.mjs';
import { framed, policyReport, watch } from './watch.mjs';

const [baseUrl, screenshot] = process.argv.slice(2);
if (!baseUrl || !screenshot) {
    process.stderr.write('usage: docs_check.mjs <base url> <screenshot.png>\n');
    process.exit(64);
}
const browser = await launchBrowser();
try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const seen = await watch(page);
    await page.goto(`${baseUrl}/1.2/docs`);
    const drawn = await page
        .waitForSelector('.swagger-ui .opblock', { timeout: 15000 })
        .then(() => true)
        .catch(() => false);
    await page.screenshot({ path: screenshot, fullPage: false });
    const operations = await page.$$eval('.swagger-ui .opblock-summary-path', (paths) =>
        paths.map((p) => `${p.closest('.opblock').querySelector('.opblock-summary-method').innerText} ${p.innerText.trim()}`),
    );
    const policy = await policyReport(page);
    process.stdout.write(
        `${JSON.stringify({
            drawn,
            title: await page.title(),
            operations,
            ...policy,
            requests: seen.requests,
            errors: seen.errors,
            framed: await framed(browser, `${baseUrl}/1.2/docs`),
        })}\n`,
    );
} finally {
    await browser.close();
}
