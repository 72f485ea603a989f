// The headless Chromium every browser test drives (playwright-core; Debian's chromium, or
// CHARGEGATE_CHROMIUM), and the dashboard's sign-in as an operator does it.

import { chromium } from 'playwright-core';

export function launchBrowser() {
    return chromium.launch({
        executablePath: process.env.CHARGEGATE_CHROMIUM ?? '/usr/bin/chromium',
        args: ['--no-sandbox'],
    });
}

// Opens the dashboard and submits the API key; the page then shows its data or why not.
export async function openDashboard(page, baseUrl, key) {
    await page.goto(`${baseUrl}/dashboard`);
    await page.fill('#key', key);
    await page.click('button[type=submit]');
}
