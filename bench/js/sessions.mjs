// OCPP 1.6J chargers that run charging sessions, for chargegate's expiry benchmark
// (bench/expiry.py). Built on the npm package ocpp-rpc, independent of chargegate's code, so the
// charger side of the measurement is not our own simulator.
//
// Each charger (<prefix><from> .. <prefix><from+count-1>) has --connectors connectors with an EV
// plugged in. It accepts RemoteStartTransaction (then sends StartTransaction and a Charging
// StatusNotification) and RemoteStopTransaction (then StopTransaction and Available), and notes
// the wall-clock arrival (ms since the epoch) of every RemoteStopTransaction by transactionId,
// and how many RemoteStartTransactions and StartTransactions each idTag had.
//
// Options for the soak benchmark (bench/soak.py), off by default: --password P logs charger n in
// with Basic auth as P<n>; --address-base A.B connects charger n from its own loopback address
// A.B.x.y, as real chargers come from many addresses (the server limits per address); --period S
// sends Heartbeat, StatusNotification (the connector's status as it is) and MeterValues (with the
// transaction while charging) once per S seconds each, jittered, and times their round trips.
//
// Usage: node sessions.mjs --url ws://127.0.0.1:8180/ocpp [--prefix EXP-] [--from 0]
//            [--count 100] [--connectors 2] [--max-runtime 1800] [--password P]
//            [--address-base 127.1] [--period 0]
// Prints {"event":"ready","connected":n,"failed":n} once every charger has booted, then obeys
// stdin lines: "report" prints {"event":"report","open":n,"stops":{"<txId>":[ms,...]},
// "remoteStarts":{"<idTag>":n},"startTransactions":{"<idTag>":n},"roundTrips":{"<action>":[ms,...]},
// "errors":{kind:n},"disconnects":n}, round trips and errors since the previous report;
// "quit" (or stdin closing) disconnects and exits. It never asserts anything.

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { RPCClient } = require('ocpp-rpc');

const args = { url: 'ws://127.0.0.1:8180/ocpp', prefix: 'EXP-', from: '0', count: '100' };
Object.assign(args, { connectors: '2', 'max-runtime': '1800' });
Object.assign(args, { password: '', 'address-base': '', period: '0' });
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
const PERIOD_MS = Number.parseFloat(args.period) * 1000;

setTimeout(() => process.exit(3), Number.parseFloat(args['max-runtime']) * 1000).unref();

const emit = (fields) => process.stdout.write(`${JSON.stringify(fields)}\n`);
const now = () => new Date().toISOString();
const stops = {};
const remoteStarts = {};
const startTransactions = {};
let roundTrips = {};
let errors = {};
let disconnects = 0;
let quitting = false;
// Work after an answer; calls cut short by quit() are not the benchmark's concern.
const later = (work) => setImmediate(() => work().catch(() => {}));
let open = 0;

// Loopback address number `n` (from 1) under --address-base: 200 to a /24, none ending in 0.
const address = (n) => `${args['address-base']}.${1 + Math.floor(n / 200)}.${1 + (n % 200)}`;

async function timed(client, action, params) {
    const began = performance.now();
    try {
        await client.call(action, params);
        (roundTrips[action] ??= []).push(Math.round((performance.now() - began) * 100) / 100);
    } catch (error) {
        const kind = error?.rpcErrorCode ?? error?.name ?? 'Error';
        errors[kind] = (errors[kind] ?? 0) + 1;
    }
}

async function charger(index) {
    const client = new RPCClient({
        endpoint: args.url,
        identity: `${args.prefix}${index}`,
        protocols: ['ocpp1.6'],
        strictMode: false,
        reconnect: false,
        callTimeoutMs: 120000,
        ...(args.password ? { password: `${args.password}${index}` } : {}),
        ...(args['address-base'] ? { wsOpts: { localAddress: address(index - FROM) } } : {}),
    });
    const meter = {};
    const running = {};
    const statuses = {};
    const status = (connectorId, value) => {
        statuses[connectorId] = value;
        return client.call('StatusNotification', {
            connectorId,
            errorCode: 'NoError',
            status: value,
            timestamp: now(),
        });
    };
    client.handle('RemoteStartTransaction', ({ params }) => {
        const connectorId = params.connectorId ?? 1;
        remoteStarts[params.idTag] = (remoteStarts[params.idTag] ?? 0) + 1;
        later(async () => {
            meter[connectorId] = 1000;
            startTransactions[params.idTag] = (startTransactions[params.idTag] ?? 0) + 1;
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
    client.on('close', () => {
        if (!quitting) disconnects += 1;
    });
    await client.connect();
    await client.call('BootNotification', {
        chargePointVendor: 'chargegate-bench',
        chargePointModel: 'sessions.mjs',
    });
    for (let connectorId = 1; connectorId <= CONNECTORS; connectorId += 1) {
        await status(connectorId, 'Preparing');
    }
    if (PERIOD_MS > 0) periodic(client, meter, running, statuses);
    return client;
}

// What a charger sends unasked: each message on its own timer, random phase, period +-20 %.
function periodic(client, meter, running, statuses) {
    const sample = () => {
        const [id, connectorId] = Object.entries(running)[0] ?? [undefined, 1];
        meter[connectorId] = (meter[connectorId] ?? 1000) + 10;
        const value = {
            value: String(meter[connectorId]),
            measurand: 'Energy.Active.Import.Register',
            unit: 'Wh',
        };
        const params = { connectorId, meterValue: [{ timestamp: now(), sampledValue: [value] }] };
        return id === undefined ? params : { ...params, transactionId: Number(id) };
    };
    const messages = [
        () => ['Heartbeat', {}],
        () => [
            'StatusNotification',
            { connectorId: 1, errorCode: 'NoError', status: statuses[1] ?? 'Preparing', timestamp: now() },
        ],
        () => ['MeterValues', sample()],
    ];
    for (const message of messages) {
        const tick = () => {
            if (quitting || client.state !== RPCClient.OPEN) return;
            timed(client, ...message());
            setTimeout(tick, PERIOD_MS * (0.8 + 0.4 * Math.random()));
        };
        setTimeout(tick, PERIOD_MS * Math.random());
    }
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
    quitting = true;
    await Promise.all(clients.map((c) => c.close({ code: 1000 }).catch(() => {})));
    process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
    if (line.trim() === 'report') {
        emit({
            event: 'report', open, stops, remoteStarts, startTransactions, roundTrips, errors,
            disconnects,
        });
        roundTrips = {};
        errors = {};
    }
    if (line.trim() === 'quit') quit();
});
lines.on('close', quit);
