// Uses the operator dashboard's controls in headless Chromium (playwright-core), as an operator
// would: sign in, then for each step find the control, choose or type its input, click it and
// wait until its outcome is final (SUCCESS or FAILURE). Then signs in once more with a second
// key (a `sessions` key) and reads what the page says. Prints one JSON line; asserts nothing.
//
// Usage: node dashboard_controls.mjs <base url> <api key> <steps JSON> <second key>
//   steps: [{"control": "<CSS selector of a .control>", "select"?: "<option>", "fill"?: "<text>",
//            "afterRefresh"?: true (click only after the page has refreshed its data once more)}]
// Env: CHARGEGATE_CHROMIUM (default /usr/bin/chromium).

import { launchBrowser, openDashboard } from './browser.mjs';
import { policyReport, watch } from './watch.mjs';

const [baseUrl, key, stepsJson, secondKey] = process.argv.slice(2);
if (!baseUrl || !key || !stepsJson || !secondKey) {
    process.stderr.write('usage: dashboard_controls.mjs <base url> <api key> <steps> <key>\n');
    process.exit(64);
}
const browser = await launchBrowser();

async function signIn(page, apiKey) {
    await openDashboard(page, baseUrl, apiKey);
    return Promise.race([
        page.waitForSelector('#app:not([hidden]) #chargers td', { timeout: 10000 }).then(() => true),
        page.waitForSelector('#login-error:not(:empty)', { timeout: 10000 }).then(() => false),
    ]);
}

async function use(page, step) {
    // The control shows up with the refresh that lists its charger, port or session.
    const box = await page.waitForSelector(step.control, { timeout: 15000 });
    const options = await box.$$eval('select option', (all) => all.map((o) => o.value));
    if (step.select) await (await box.$('select')).selectOption(step.select);
    if (step.fill !== undefined) await (await box.$('input')).fill(step.fill);
    if (step.afterRefresh) {
        // What was typed must outlive the page's next redraw.
        const before = await page.textContent('#updated');
        await page.waitForFunction((t) => document.getElementById('updated').textContent !== t,
            before, { timeout: 10000 });
    }
    const outcome = await box.$('output');
    await (await box.$('button')).click();
    // The first state after the request went out (a slow outcome is IN PROGRESS meanwhile).
    await page.waitForFunction((o) => !['', 'SENDING'].includes(o.dataset.state ?? ''), outcome);
    const first = await outcome.evaluate((o) => o.dataset.state);
    await page.waitForFunction((o) => ['SUCCESS', 'FAILURE'].includes(o.dataset.state), outcome, {
        timeout: 30000,
    });
    // A configuration read lists the keys once they have been fetched.
    const listed = await box.$('details.configuration');
    if (listed) await box.waitForSelector('details.configuration li', { timeout: 10000 });
    return {
        ...step,
        options,
        first,
        state: await outcome.evaluate((o) => o.dataset.state),
        text: await outcome.evaluate((o) => o.textContent),
        keys: listed ? await listed.$$eval('li', (all) => all.map((li) => li.textContent)) : [],
    };
}

try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const seen = await watch(page);
    const signedIn = await signIn(page, key);
    const steps = [];
    for (const step of signedIn ? JSON.parse(stepsJson) : []) steps.push(await use(page, step));
    const log = await page.$$eval('#actions li', (all) => all.map((li) => li.textContent));
    const policy = await policyReport(page);
    if (signedIn) await page.click('#logout');
    const logAfterSignOut = await page.$$eval('#actions li', (all) => all.length);
    const second = await browser.newPage();
    const secondSignedIn = await signIn(second, secondKey);
    process.stdout.write(
        `${JSON.stringify({
            signedIn,
            steps,
            log,
            logAfterSignOut,
            secondSignedIn,
            secondError: await second.textContent('#login-error'),
            ...policy,
            requests: seen.requests,
            errors: seen.errors,
        })}\n`,
    );
} finally {
    await browser.close();
}
