// OCPP 1.6J load generator for chargegate's benchmarks, independent of chargegate's own code: it
// is built on the npm package ocpp-rpc (strict mode off, for speed). One node process holds many
// chargers, ids <prefix><from> .. <prefix><from+count-1>.
//
// Modes:
//   hold        every charger sends BootNotification once, then Heartbeat, StatusNotification and
//               MeterValues each once per --period seconds (jittered +-20 %, random phase).
//   throughput  every charger sends BootNotification once, then --action back to back (one CALL
//               outstanding per charger) for the measured window.
//
// Usage:
//   node load.mjs --url ws://127.0.0.1:8180/ocpp [--mode hold|throughput] [--prefix LOAD-]
//       [--from 0] [--count 100] [--period 10] [--duration 30] [--action Heartbeat]
//       [--connect-concurrency 100] [--connect-timeout 60] [--call-timeout 30] [--control]
//       [--hist] [--max-runtime 900]
//
// Without --control it connects, measures for --duration seconds, prints one JSON summary line
// on stdout, disconnects and exits. With --control (used by bench/chargers.py) it prints
// {"event":"ready",...} once every charger is connected (or has failed), then obeys lines on
// stdin: "measure <seconds>" measures a window and prints a summary line; "quit" (or stdin
// closing) disconnects and exits. Summary fields: event "summary", mode, chargers, connected,
// connectFailed, count, errors, disconnects, seconds, p50Ms, p99Ms, maxMs, cps (completed calls
// per second), and with --hist a latency histogram (log buckets of 1 %, key i = about
// 1.01^i microseconds) so that several processes' windows can be merged. It never asserts speed.
// Exit code: 0, or 2 if no charger could connect. Every loop is bounded in time by
// --max-runtime (the process exits then whatever happens).

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { RPCClient } = require('ocpp-rpc');

// --- Arguments ----------------------------------------------------------------------------

const DEFAULTS = {
    url: 'ws://127.0.0.1:8180/ocpp',
    mode: 'hold',
    prefix: 'LOAD-',
    from: '0',
    count: '100',
    period: '10',
    duration: '30',
    action: 'Heartbeat',
    'connect-concurrency': '100',
    'connect-timeout': '60',
    'call-timeout': '30',
    'max-runtime': '900',
};
const FLAGS = new Set(['control', 'hist']);

function parseArgs(argv) {
    const args = { ...DEFAULTS };
    for (let i = 0; i < argv.length; i += 1) {
        const key = argv[i].replace(/^--/, '');
        if (FLAGS.has(key)) {
            args[key] = true;
        } else if (key in DEFAULTS && i + 1 < argv.length) {
            args[key] = argv[i + 1];
            i += 1;
        } else {
            process.stderr.write(`load.mjs: unknown or incomplete argument ${argv[i]}\n`);
            process.exit(64);
        }
    }
    return args;
}

const args = parseArgs(process.argv.slice(2));
const MODE = args.mode;
const COUNT = Number.parseInt(args.count, 10);
const FROM = Number.parseInt(args.from, 10);
const PERIOD_MS = Number.parseFloat(args.period) * 1000;
const CALL_TIMEOUT_MS = Number.parseFloat(args['call-timeout']) * 1000;
const CONNECT_TIMEOUT_MS = Number.parseFloat(args['connect-timeout']) * 1000;
const ACTIONS = ['Heartbeat', 'StatusNotification', 'MeterValues'];
if (!['hold', 'throughput'].includes(MODE) || !ACTIONS.includes(args.action) || !(COUNT > 0)) {
    process.stderr.write('load.mjs: bad --mode, --action or --count\n');
    process.exit(64);
}

// Hard stop: whatever state we are in, the process ends after --max-runtime seconds.
setTimeout(
    () => {
        process.stderr.write('load.mjs: --max-runtime reached, exiting\n');
        process.exit(3);
    },
    Number.parseFloat(args['max-runtime']) * 1000,
).unref();

function emit(fields) {
    process.stdout.write(`${JSON.stringify(fields)}\n`);
}

// --- Statistics ---------------------------------------------------------------------------

const LOG_BASE = Math.log(1.01);

class Stats {
    constructor() {
        this.latencies = [];
        this.errors = 0;
        this.errorKinds = {};
        this.began = performance.now();
    }

    ok(ms) {
        this.latencies.push(ms);
    }

    fail(error) {
        this.errors += 1;
        const kind = error?.rpcErrorCode ?? error?.name ?? 'Error';
        this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
    }

    summary(extra) {
        const seconds = (performance.now() - this.began) / 1000;
        const sorted = Float64Array.from(this.latencies).sort();
        const pick = (q) =>
            sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null;
        const round = (v) => (v === null ? null : Math.round(v * 1000) / 1000);
        const out = {
            event: 'summary',
            mode: MODE,
            ...extra,
            count: sorted.length,
            errors: this.errors,
            errorKinds: this.errorKinds,
            seconds: round(seconds),
            p50Ms: round(pick(0.5)),
            p99Ms: round(pick(0.99)),
            maxMs: round(sorted.length ? sorted[sorted.length - 1] : null),
            cps: Math.round((sorted.length / seconds) * 10) / 10,
        };
        if (args.hist) {
            const hist = {};
            for (const ms of sorted) {
                const key = Math.max(0, Math.round(Math.log(Math.max(ms * 1000, 1)) / LOG_BASE));
                hist[key] = (hist[key] ?? 0) + 1;
            }
            out.hist = hist;
        }
        return out;
    }
}

let stats = new Stats();
const bootStats = new Stats();
let disconnects = 0;
let inboundCalls = 0;
let shuttingDown = false;

// --- Chargers -----------------------------------------------------------------------------

const now = () => new Date().toISOString();

function payload(action, charger) {
    if (action === 'Heartbeat') return {};
    if (action === 'StatusNotification') {
        return { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() };
    }
    charger.meterWh += 10;
    return {
        connectorId: 1,
        meterValue: [
            {
                timestamp: now(),
                sampledValue: [
                    {
                        value: String(charger.meterWh),
                        context: 'Sample.Periodic',
                        measurand: 'Energy.Active.Import.Register',
                        unit: 'Wh',
                    },
                ],
            },
        ],
    };
}

async function timedCall(charger, action, into) {
    const began = performance.now();
    try {
        await charger.client.call(action, payload(action, charger));
        into.ok(performance.now() - began);
        return true;
    } catch (error) {
        into.fail(error);
        return false;
    }
}

function withTimeout(promise, ms) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('connect timeout')), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function connect(index) {
    const client = new RPCClient({
        endpoint: args.url,
        identity: `${args.prefix}${index}`,
        protocols: ['ocpp1.6'],
        strictMode: false,
        reconnect: false,
        callTimeoutMs: CALL_TIMEOUT_MS,
    });
    const charger = { client, meterWh: 1000 + index, connected: false, timers: [] };
    // The server's own CALLs are counted; ocpp-rpc answers them NotImplemented.
    client.on('call', ({ outbound }) => {
        if (!outbound) inboundCalls += 1;
    });
    client.on('disconnect', () => {
        if (!shuttingDown) disconnects += 1;
    });
    client.on('socketError', () => {});
    try {
        await withTimeout(client.connect(), CONNECT_TIMEOUT_MS);
    } catch (error) {
        bootStats.fail(error);
        client.close({ force: true }).catch(() => {});
        return charger;
    }
    const began = performance.now();
    try {
        await client.call('BootNotification', {
            chargePointVendor: 'chargegate-bench',
            chargePointModel: 'load.mjs',
        });
        bootStats.ok(performance.now() - began);
        charger.connected = true;
    } catch (error) {
        bootStats.fail(error);
    }
    return charger;
}

async function connectAll() {
    const chargers = [];
    let next = 0;
    const concurrency = Math.min(COUNT, Number.parseInt(args['connect-concurrency'], 10));
    const worker = async () => {
        while (next < COUNT) {
            const index = FROM + next;
            next += 1;
            chargers.push(await connect(index));
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return chargers;
}

// hold: each action on its own timer, random phase, period jittered by +-20 %.
function startHolding(chargers) {
    for (const charger of chargers.filter((c) => c.connected)) {
        for (const action of ACTIONS) {
            const tick = () => {
                if (shuttingDown) return;
                timedCall(charger, action, stats);
                charger.timers[ACTIONS.indexOf(action)] = setTimeout(
                    tick,
                    PERIOD_MS * (0.8 + 0.4 * Math.random()),
                );
            };
            charger.timers[ACTIONS.indexOf(action)] = setTimeout(tick, PERIOD_MS * Math.random());
        }
    }
}

// throughput: back to back for `seconds`; resolves when every charger's loop has ended.
async function runThroughput(chargers, seconds) {
    const deadline = performance.now() + seconds * 1000;
    const loop = async (charger) => {
        while (!shuttingDown && performance.now() < deadline) {
            await timedCall(charger, args.action, stats);
        }
    };
    await Promise.all(chargers.filter((c) => c.connected).map(loop));
}

async function closeAll(chargers) {
    shuttingDown = true;
    for (const charger of chargers) for (const timer of charger.timers) clearTimeout(timer);
    await Promise.all(
        chargers.map((c) => withTimeout(c.client.close({ code: 1000 }), 5000).catch(() => {})),
    );
}

function windowSummary(chargers) {
    const connected = chargers.filter((c) => c.connected).length;
    return stats.summary({
        chargers: COUNT,
        connected,
        connectFailed: COUNT - connected,
        disconnects,
        inboundCalls,
        ...(MODE === 'throughput' ? { action: args.action, concurrency: connected } : {}),
    });
}

async function measure(chargers, seconds) {
    stats = new Stats();
    if (MODE === 'throughput') {
        await runThroughput(chargers, seconds);
    } else {
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
    return windowSummary(chargers);
}

// --- Main ---------------------------------------------------------------------------------

const chargers = await connectAll();
const connected = chargers.filter((c) => c.connected).length;
const boot = bootStats.summary({});
emit({
    event: 'ready',
    chargers: COUNT,
    connected,
    connectFailed: COUNT - connected,
    connectSeconds: boot.seconds,
    bootP50Ms: boot.p50Ms,
    bootP99Ms: boot.p99Ms,
    bootErrorKinds: boot.errorKinds,
});
if (connected === 0) {
    await closeAll(chargers);
    process.exit(2);
}
if (MODE === 'hold') startHolding(chargers);

if (!args.control) {
    emit(await measure(chargers, Number.parseFloat(args.duration)));
    await closeAll(chargers);
    process.exit(0);
}

const lines = createInterface({ input: process.stdin });
let busy = Promise.resolve();
const quit = async () => {
    await busy;
    await closeAll(chargers);
    emit({ event: 'closed' });
    process.exit(0);
};
lines.on('line', (line) => {
    const [command, value] = line.trim().split(/\s+/);
    if (command === 'measure') {
        const seconds = Math.min(Number.parseFloat(value) || 10, 600);
        busy = busy.then(async () => emit(await measure(chargers, seconds)));
    } else if (command === 'quit') {
        quit();
    }
});
lines.on('close', quit);
