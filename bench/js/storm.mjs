// Reconnect-storm load generator for chargegate's bench/storm.py, independent of chargegate's own
// code: it is built on the npm package ocpp-rpc (strict mode off, for speed). One node process
// holds chargers <prefix><from> .. <prefix><from+count-1>; even-numbered ones speak OCPP 1.6,
// odd-numbered ones OCPP 2.0.1, so any process's share is half of each.
//
// Each charger logs in with HTTP Basic auth as <password><n> when --password is given. Every
// connect is issued at once (no concurrency bound): that is the storm. A charger then sends its
// BootNotification and one StatusNotification per connector. Under load (command "load") each
// charger sends Heartbeat once per --period seconds, MeterValues once per --period per connector,
// and each connector, once per --period, with probability --session-rate starts a session if idle
// (1.6 StartTransaction, 2.0.1 TransactionEvent Started, then StatusNotification Charging /
// Occupied) or stops it if charging (StopTransaction / TransactionEvent Ended, then Available).
// Every period is jittered +-20 % with a random phase.
//
// Usage:
//   node storm.mjs --url ws://127.0.0.1:8180/ocpp [--prefix STORM-] [--from 0] [--count 100]
//       [--connectors 2] [--password P] [--period 60] [--session-rate 0.05]
//       [--connect-timeout 120] [--call-timeout 30] [--max-runtime 3600]
//
// Commands on stdin, one JSON line answered on stdout each:
//   connect        connect every charger at once, boot it; answers {"event":"booted",...}
//                  when every charger has booted or failed: seconds (from the command to the last
//                  boot), booted, failed, refused (handshakes answered with an HTTP status, by
//                  status), errors (by kind), and a "hist" of boot round trips.
//   drop           forget every connection (the server has gone): {"event":"dropped"}
//   load           start the realistic load: {"event":"loading"}
//   measure S      measure S seconds of load: {"event":"summary", "actions": {name: {count,
//                  errors, hist}}, errors by kind, disconnects, inboundCalls, seconds}
//   quit           (or stdin closing) close and exit.
// Histograms: key i = about 1.01^i microseconds, so several processes' figures can be merged.
// It never asserts speed; every loop ends by --max-runtime.

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { RPCClient } = require('ocpp-rpc');

const args = {
    url: 'ws://127.0.0.1:8180/ocpp',
    prefix: 'STORM-',
    from: '0',
    count: '100',
    connectors: '2',
    password: '',
    period: '60',
    'session-rate': '0.05',
    'connect-timeout': '120',
    'call-timeout': '30',
    'max-runtime': '3600',
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || i + 1 >= argv.length) {
        process.stderr.write(`storm.mjs: unknown or incomplete argument ${argv[i]}\n`);
        process.exit(64);
    }
    args[key] = argv[i + 1];
}
const FROM = Number.parseInt(args.from, 10);
const COUNT = Number.parseInt(args.count, 10);
const CONNECTORS = Number.parseInt(args.connectors, 10);
const PERIOD_MS = Number.parseFloat(args.period) * 1000;
const SESSION_RATE = Number.parseFloat(args['session-rate']);
const CONNECT_TIMEOUT_MS = Number.parseFloat(args['connect-timeout']) * 1000;
const CALL_TIMEOUT_MS = Number.parseFloat(args['call-timeout']) * 1000;

setTimeout(() => process.exit(3), Number.parseFloat(args['max-runtime']) * 1000).unref();

const emit = (fields) => process.stdout.write(`${JSON.stringify(fields)}\n`);
const now = () => new Date().toISOString();
const LOG_BASE = Math.log(1.01);
const bucket = (ms) => Math.max(0, Math.round(Math.log(Math.max(ms * 1000, 1)) / LOG_BASE));
const bump = (map, key, n = 1) => {
    map[key] = (map[key] ?? 0) + n;
};
// A socket's failure says which (ECONNRESET, a WebSocket closed before it opened...): its
// system code, else its message, cut short.
const errorKind = (error) =>
    error?.rpcErrorCode ??
    (typeof error?.code === 'string' ? error.code : null) ??
    (error?.name === 'Error' && error?.message ? error.message.slice(0, 60) : null) ??
    error?.name ??
    'Error';

// --- Statistics ---------------------------------------------------------------------------

let window = null;
let disconnects = 0;
let inboundCalls = 0;
let loading = false;

function newWindow() {
    return { began: performance.now(), actions: {}, errors: {} };
}

function record(name, ms, error) {
    if (window === null) return;
    window.actions[name] ??= { count: 0, errors: 0, hist: {} };
    const entry = window.actions[name];
    if (error === undefined) {
        entry.count += 1;
        bump(entry.hist, bucket(ms));
    } else {
        entry.errors += 1;
        bump(window.errors, `${name}: ${errorKind(error)}`);
    }
}

// --- Messages, by OCPP version --------------------------------------------------------------

const V16 = {
    protocol: 'ocpp1.6',
    boot: () => ({ chargePointVendor: 'chargegate-bench', chargePointModel: 'storm.mjs' }),
    status: (c, status) => ({
        connectorId: c.id,
        errorCode: 'NoError',
        status: { idle: 'Available', charging: 'Charging' }[status],
        timestamp: now(),
    }),
    meter: (c) => ({
        connectorId: c.id,
        ...(c.tx === null ? {} : { transactionId: c.tx }),
        meterValue: [
            {
                timestamp: now(),
                sampledValue: [
                    {
                        value: String(c.wh),
                        context: 'Sample.Periodic',
                        measurand: 'Energy.Active.Import.Register',
                        unit: 'Wh',
                    },
                ],
            },
        ],
    }),
    async start(charger, c) {
        const answer = await call(charger, 'StartTransaction', {
            connectorId: c.id,
            idTag: 'STORM',
            meterStart: c.wh,
            timestamp: now(),
        });
        c.tx = answer.transactionId;
    },
    async stop(charger, c) {
        await call(charger, 'StopTransaction', {
            transactionId: c.tx,
            meterStop: c.wh,
            timestamp: now(),
            reason: 'Local',
        });
    },
};

const meter201 = (c) => [
    {
        timestamp: now(),
        sampledValue: [{ value: c.wh, measurand: 'Energy.Active.Import.Register' }],
    },
];

const V201 = {
    protocol: 'ocpp2.0.1',
    boot: () => ({
        reason: 'PowerUp',
        chargingStation: { vendorName: 'chargegate-bench', model: 'storm.mjs' },
    }),
    status: (c, status) => ({
        timestamp: now(),
        connectorStatus: { idle: 'Available', charging: 'Occupied' }[status],
        evseId: c.id,
        connectorId: 1,
    }),
    meter: (c) => ({ evseId: c.id, meterValue: meter201(c) }),
    async start(charger, c) {
        c.tx = `${charger.identity}-${c.id}-${(c.sessions += 1)}`;
        c.seqNo = 0;
        await call(charger, 'TransactionEvent', {
            eventType: 'Started',
            timestamp: now(),
            triggerReason: 'Authorized',
            seqNo: c.seqNo,
            transactionInfo: { transactionId: c.tx, chargingState: 'Charging' },
            evse: { id: c.id, connectorId: 1 },
            idToken: { idToken: 'STORM', type: 'ISO14443' },
            meterValue: meter201(c),
        });
    },
    async stop(charger, c) {
        c.seqNo += 1;
        await call(charger, 'TransactionEvent', {
            eventType: 'Ended',
            timestamp: now(),
            triggerReason: 'StopAuthorized',
            seqNo: c.seqNo,
            transactionInfo: { transactionId: c.tx, stoppedReason: 'Local' },
            evse: { id: c.id, connectorId: 1 },
            meterValue: meter201(c),
        });
    },
};

// --- Chargers -----------------------------------------------------------------------------

async function call(charger, action, payload) {
    const name = `${charger.version.protocol} ${action}`;
    const began = performance.now();
    try {
        const answer = await charger.client.call(action, payload);
        record(name, performance.now() - began);
        return answer;
    } catch (error) {
        record(name, 0, error);
        throw error;
    }
}

const chargers = [];
for (let n = FROM; n < FROM + COUNT; n += 1) {
    const connectors = [];
    for (let id = 1; id <= CONNECTORS; id += 1) {
        connectors.push({ id, tx: null, wh: 1000 * n, sessions: 0, seqNo: 0, busy: false });
    }
    chargers.push({
        identity: `${args.prefix}${n}`,
        version: n % 2 === 0 ? V16 : V201,
        password: args.password ? `${args.password}${n}` : null,
        client: null,
        online: false,
        connectors,
        timers: [],
    });
}

function withTimeout(promise, ms) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { name: 'Timeout' })), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function newClient(charger) {
    const client = new RPCClient({
        endpoint: args.url,
        identity: charger.identity,
        protocols: [charger.version.protocol],
        ...(charger.password === null ? {} : { password: charger.password }),
        strictMode: false,
        reconnect: false,
        callTimeoutMs: CALL_TIMEOUT_MS,
    });
    // The server's own CALLs are counted; ocpp-rpc answers them NotImplemented.
    client.on('call', ({ outbound }) => {
        if (!outbound) inboundCalls += 1;
    });
    client.on('close', () => {
        if (charger.online && charger.client === client) disconnects += 1;
        if (charger.client === client) charger.online = false;
    });
    client.on('socketError', () => {});
    return client;
}

// Connect and boot one charger; the outcome goes into `storm`.
async function boot(charger, storm) {
    charger.client = newClient(charger);
    try {
        await withTimeout(charger.client.connect(), CONNECT_TIMEOUT_MS);
    } catch (error) {
        if (typeof error?.code === 'number') bump(storm.refused, error.code);
        else bump(storm.errors, `connect: ${errorKind(error)}`);
        storm.failed += 1;
        charger.client.close({ force: true }).catch(() => {});
        return;
    }
    const began = performance.now();
    try {
        const answer = await charger.client.call('BootNotification', charger.version.boot());
        bump(storm.hist, bucket(performance.now() - began));
        if (answer.status !== 'Accepted') bump(storm.errors, `boot: ${answer.status}`);
        for (const c of charger.connectors) {
            const state = c.tx === null ? 'idle' : 'charging';
            await charger.client.call('StatusNotification', charger.version.status(c, state));
        }
        charger.online = true;
        storm.booted += 1;
        storm.last = performance.now();
    } catch (error) {
        bump(storm.errors, `boot: ${errorKind(error)}`);
        storm.failed += 1;
    }
}

async function connectAll() {
    const storm = { booted: 0, failed: 0, refused: {}, errors: {}, hist: {} };
    const began = performance.now();
    storm.last = began;
    await Promise.all(chargers.map((charger) => boot(charger, storm)));
    const seconds = Math.round(storm.last - began) / 1000;
    const { last, ...fields } = storm;
    return { event: 'booted', chargers: COUNT, seconds, ...fields };
}

function clearTimers() {
    for (const charger of chargers) {
        for (const timer of charger.timers) clearTimeout(timer);
        charger.timers = [];
    }
}

function dropAll() {
    loading = false;
    clearTimers();
    for (const charger of chargers) {
        charger.online = false;
        charger.client?.close({ force: true }).catch(() => {});
    }
}

function every(charger, work) {
    const tick = () => {
        if (!loading) return;
        if (charger.online) work().catch(() => {});
        charger.timers.push(setTimeout(tick, PERIOD_MS * (0.8 + 0.4 * Math.random())));
    };
    charger.timers.push(setTimeout(tick, PERIOD_MS * Math.random()));
}

async function toggleSession(charger, c) {
    if (c.busy || Math.random() >= SESSION_RATE) return;
    c.busy = true;
    try {
        if (c.tx === null) {
            await charger.version.start(charger, c);
            await call(charger, 'StatusNotification', charger.version.status(c, 'charging'));
        } else {
            await charger.version.stop(charger, c);
            c.tx = null;
            await call(charger, 'StatusNotification', charger.version.status(c, 'idle'));
        }
    } finally {
        c.busy = false;
    }
}

function startLoad() {
    clearTimers();
    loading = true;
    for (const charger of chargers) {
        every(charger, () => call(charger, 'Heartbeat', {}));
        for (const c of charger.connectors) {
            every(charger, () => {
                c.wh += 250;
                return call(charger, 'MeterValues', charger.version.meter(c));
            });
            every(charger, () => toggleSession(charger, c));
        }
    }
}

async function measure(seconds) {
    window = newWindow();
    const before = { disconnects, inboundCalls };
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const done = window;
    window = null;
    return {
        event: 'summary',
        seconds: Math.round(performance.now() - done.began) / 1000,
        online: chargers.filter((c) => c.online).length,
        disconnects: disconnects - before.disconnects,
        inboundCalls: inboundCalls - before.inboundCalls,
        actions: done.actions,
        errors: done.errors,
    };
}

// --- Commands -----------------------------------------------------------------------------

let busy = Promise.resolve();
const quit = async () => {
    await busy;
    dropAll();
    emit({ event: 'closed' });
    process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
    const [command, value] = line.trim().split(/\s+/);
    const run = {
        connect: async () => emit(await connectAll()),
        drop: async () => {
            dropAll();
            emit({ event: 'dropped' });
        },
        load: async () => {
            startLoad();
            emit({ event: 'loading' });
        },
        measure: async () => emit(await measure(Math.min(Number.parseFloat(value) || 10, 3600))),
        quit,
    }[command];
    if (run === undefined) process.stderr.write(`storm.mjs: unknown command ${command}\n`);
    else if (command === 'quit') run();
    else busy = busy.then(run);
});
lines.on('close', quit);
emit({ event: 'started', chargers: COUNT });
