// OCPP 1.6J chargers that run charging sessions, for chargegate's expiry benchmark
// (bench/expiry.py). Built on the npm package ocpp-rpc, independent of chargegate's code, so the
// charger side of the measurement is not our own simulator.
//
// Each charger (<prefix><from> .. <prefix><from+count-1>) has --connectors connectors with an EV
// plugged in. It accepts RemoteStartTransaction (then sends StartTransaction and a Charging
// StatusNotification) and RemoteStopTransaction (then StopTransaction and Available), and notes
// the wall-clock arrival (ms since the epoch) of every RemoteStopTransaction by transactionId.
//
// Usage: node sessions.mjs --url ws://127.0.0.1:8180/ocpp [--prefix EXP-] [--from 0]
//            [--count 100] [--connectors 2] [--max-runtime 1800]
// Prints {"event":"ready","connected":n,"failed":n} once every charger has booted, then obeys
// stdin lines: "report" prints {"event":"report","open":n,"stops":{"<txId>":[ms,...]}};
// "quit" (or stdin closing) disconnects and exits. It never asserts anything.

import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { RPCClient } = require('ocpp-rpc');

const args = { url: 'ws://127.0.0.1:8180/ocpp', prefix: 'EXP-', from: '0', count: '100' };
Object.assign(args, { connectors: '2', 'max-runtime': '1800' });
const argv = process.argv.slice(2);
for (let i = 0; i + 1 < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args)) {
        process.stderr.write(`sessions.mjs: unknown argument ${argv[i]}\n`);
        process.exit(64);
    }
    args[key] = argv[i + 1];
}
const FROM = Number.parseInt(args.from, 10);
const COUNT = Number.parseInt(args.count, 10);
const CONNECTORS = Number.parseInt(args.connectors, 10);

setTimeout(() => process.exit(3), Number.parseFloat(args['max-runtime']) * 1000).unref();

const emit = (fields) => process.stdout.write(`${JSON.stringify(fields)}\n`);
const now = () => new Date().toISOString();
const stops = {};
// Work after an answer; calls cut short by quit() are not the benchmark's concern.
const later = (work) => setImmediate(() => work().catch(() => {}));
let open = 0;

async function charger(index) {
    const client = new RPCClient({
        endpoint: args.url,
        identity: `${args.prefix}${index}`,
        protocols: ['ocpp1.6'],
        strictMode: false,
        reconnect: false,
        callTimeoutMs: 120000,
    });
    const meter = {};
    const running = {};
    const status = (connectorId, value) =>
        client.call('StatusNotification', {
            connectorId,
            errorCode: 'NoError',
            status: value,
            timestamp: now(),
        });
    client.handle('RemoteStartTransaction', ({ params }) => {
        const connectorId = params.connectorId ?? 1;
        later(async () => {
            meter[connectorId] = 1000;
            const started = await client.call('StartTransaction', {
                connectorId,
                idTag: params.idTag,
                meterStart: meter[connectorId],
                timestamp: now(),
            });
            running[started.transactionId] = connectorId;
            open += 1;
            await status(connectorId, 'Charging');
        });
        return { status: 'Accepted' };
    });
    client.handle('RemoteStopTransaction', ({ params }) => {
        const id = params.transactionId;
        (stops[id] ??= []).push(Date.now());
        const connectorId = running[id];
        if (connectorId === undefined) return { status: 'Rejected' };
        delete running[id];
        later(async () => {
            open -= 1;
            await client.call('StopTransaction', {
                transactionId: id,
                meterStop: meter[connectorId] + 500,
                timestamp: now(),
                reason: 'Remote',
            });
            await status(connectorId, 'Available');
        });
        return { status: 'Accepted' };
    });
    client.on('socketError', () => {});
    await client.connect();
    await client.call('BootNotification', {
        chargePointVendor: 'chargegate-bench',
        chargePointModel: 'sessions.mjs',
    });
    for (let connectorId = 1; connectorId <= CONNECTORS; connectorId += 1) {
        await status(connectorId, 'Preparing');
    }
    return client;
}

const clients = [];
let failed = 0;
let next = 0;
const worker = async () => {
    while (next < COUNT) {
        const index = FROM + next;
        next += 1;
        try {
            clients.push(await charger(index));
        } catch {
            failed += 1;
        }
    }
};
await Promise.all(Array.from({ length: Math.min(COUNT, 100) }, worker));
emit({ event: 'ready', connected: clients.length, failed });

const quit = async () => {
    await Promise.all(clients.map((c) => c.close({ code: 1000 }).catch(() => {})));
    process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
    if (line.trim() === 'report') emit({ event: 'report', open, stops });
    if (line.trim() === 'quit') quit();
});
lines.on('close', quit);
