// What a page does in the browser, beyond what it shows: every request it makes (so a test can
// check none leaves the server), every Content-Security-Policy violation, and whether the
// policy is really in force (an injected inline script must not run; the page must not load
// inside a frame). Shared by dashboard_check.mjs and docs_check.mjs.

export async function watch(page) {
    const requests = [];
    const errors = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
    });
    // Injected by the browser driver, not the page: no policy of the page applies to it.
    await page.addInitScript(() => {
        window.__violations = [];
        document.addEventListener('securitypolicyviolation', (event) =>
            window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`),
        );
    });
    return { requests, errors };
}

// Reads the page's violations so far, then tries an inline script (the way injected markup
// would run one) and reports whether it ran.
export async function policyReport(page) {
    const before = await page.evaluate(() => [...window.__violations]);
    await page.evaluate(() => {
        const script = document.createElement('script');
        script.textContent = 'window.__inlineRan = true;';
        document.body.appendChild(script);
    });
    await page.waitForFunction(() => window.__violations.length > 0, null, { timeout: 5000 })
        .catch(() => {});
    return {
        violations: before,
        inlineScriptRan: await page.evaluate(() => window.__inlineRan === true),
        inlineScriptBlocked: await page.evaluate(() =>
            window.__violations.some((v) => v.startsWith('script-src')),
        ),
    };
}

// Whether `url` shows inside an iframe of another page (frame-ancestors 'none' forbids it).
export async function framed(browser, url) {
    const page = await browser.newPage();
    try {
        // The load event waits for the frame, whether it shows the page or an error.
        await page.setContent(`<iframe src="${url}" width="600" height="400"></iframe>`, {
            waitUntil: 'load',
        });
        const frame = page.frames().find((f) => f !== page.mainFrame());
        if (!frame) return false;
        // A refused frame shows Chromium's error page instead of ours: no <title> of ours.
        return await frame.evaluate(() => document.title.startsWith('chargegate')).catch(() => false);
    } finally {
        await page.close();
    }
}
