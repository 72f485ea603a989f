// An independent OCPP 1.6J charger for chargegate's interoperability test.
//
// It is built on the npm package ocpp-rpc in strict mode: every CALL the server sends us and
// every CALLRESULT it answers our CALLs with is validated against ocpp-rpc's own OCPP 1.6 JSON
// schemas (not ours). A validation failure surfaces as a 'strictValidationFailure' event and as
// a rejected call / CALLERROR reply; both are reported and make the exit code non-zero.
//
// Usage: node strict_charger.mjs <ws base url> <charge point id> [connector count]
//   e.g. node strict_charger.mjs ws://127.0.0.1:8080/ocpp CP-1 2
//
// Output: one JSON object per line on stdout, each with "event" and "at" (ISO 8601 UTC) fields:
//   connected, ready, send, result, callFailed, call, reply, transactionStarted, metered,
//   transactionStopped, note, disconnect, exit; and the failures strictValidationFailure,
//   badMessage, callError (a CALLERROR received or sent, or a call that timed out), error.
// It runs until SIGTERM / SIGINT or until stdin is closed, then closes the connection and exits
// 0 after a clean run, 1 if anything failed, 2 if it could not connect at all.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { RPCClient, createRPCError } = require('ocpp-rpc');

const [baseUrl, chargePointId, connectorArg] = process.argv.slice(2);
if (!baseUrl || !chargePointId) {
    process.stderr.write('usage: strict_charger.mjs <ws base url> <charge point id> [connectors]\n');
    process.exit(64);
}
const connectorCount = Number.parseInt(connectorArg ?? '1', 10);

const ENERGY = 'Energy.Active.Import.Register';
// Energy added while charging: once before the MeterValues, once more before the stop.
const METER_STEP_WH = 500;
const STOP_STEP_WH = 734;

let failures = 0;
let shuttingDown = false;

function emit(event, fields = {}) {
    process.stdout.write(`${JSON.stringify({ event, at: new Date().toISOString(), ...fields })}\n`);
}

function fail(event, fields) {
    failures += 1;
    emit(event, fields);
}

function describeError(error) {
    if (!error) return null;
    return {
        name: error.name,
        message: error.message,
        code: error.rpcErrorCode ?? null,
        details: error.details ?? null,
    };
}

const now = () => new Date().toISOString();

const connectors = new Map();
for (let id = 1; id <= connectorCount; id += 1) {
    // Distinct, non-zero registers so that energy is computed as a difference, not read off.
    connectors.set(id, { id, status: 'Available', meterWh: 10000 * id + 17, tx: null });
}

const client = new RPCClient({
    endpoint: baseUrl,
    identity: chargePointId,
    protocols: ['ocpp1.6'],
    strictMode: true,
    reconnect: false,
    callTimeoutMs: 10000,
});

// --- Failure reporting -------------------------------------------------------------------

client.on('strictValidationFailure', (event) => {
    fail('strictValidationFailure', {
        method: event.method,
        messageId: event.messageId,
        outbound: event.outbound,
        isCall: event.isCall,
        params: event.params,
        result: event.result,
        error: describeError(event.error),
    });
});

client.on('badMessage', (event) => {
    fail('badMessage', {
        message: event.buffer?.toString(),
        error: describeError(event.error),
        response: event.response,
    });
});

// CALLERRORs in both directions: received in answer to our CALLs, or sent by us (a handler
// threw or an inbound CALL failed strict validation). None is expected in this test.
client.on('callError', (event) => {
    fail('callError', {
        direction: event.outbound ? 'received' : 'sent',
        action: event.method,
        params: event.params,
        error: describeError(event.error),
    });
});

client.on('socketError', (error) => emit('error', { where: 'socket', error: describeError(error) }));

client.on('disconnect', ({ code, reason }) => {
    if (shuttingDown) {
        emit('disconnect', { code, reason: String(reason ?? ''), expected: true });
        return;
    }
    fail('disconnect', { code, reason: String(reason ?? ''), expected: false });
    finish();
});

// --- Outbound CALLs ---------------------------------------------------------------------

// Sends a CALL and reports it; a failed CALL yields null.
async function send(action, params) {
    emit('send', { action, params });
    try {
        const result = await client.call(action, params);
        emit('result', { action, params, result });
        return result;
    } catch (error) {
        // Already counted: ocpp-rpc emits 'callError' for every rejected outbound call
        // (CALLERROR received, strict validation of the result, timeout, closed socket).
        emit('callFailed', { action, error: describeError(error) });
        return null;
    }
}

async function statusNotification(connector, status) {
    connector.status = status;
    return send('StatusNotification', {
        connectorId: connector.id,
        errorCode: 'NoError',
        status,
        timestamp: now(),
    });
}

function energySample(value, context) {
    return {
        value: String(value),
        context,
        format: 'Raw',
        measurand: ENERGY,
        location: 'Outlet',
        unit: 'Wh',
    };
}

// --- Charging sessions ------------------------------------------------------------------

async function startSession(connector, idTag) {
    await statusNotification(connector, 'Preparing');
    const auth = await send('Authorize', { idTag });
    if (auth?.idTagInfo?.status !== 'Accepted') {
        emit('note', { message: `Authorize of remote idTag answered ${auth?.idTagInfo?.status}` });
    }
    const meterStart = connector.meterWh;
    const started = await send('StartTransaction', {
        connectorId: connector.id,
        idTag,
        meterStart,
        timestamp: now(),
    });
    if (started === null) return;
    connector.tx = { transactionId: started.transactionId, idTag, meterStart };
    emit('transactionStarted', {
        connectorId: connector.id,
        transactionId: started.transactionId,
        idTag,
        meterStart,
        status: started.idTagInfo.status,
    });
    if (started.idTagInfo.status !== 'Accepted') {
        // A charger must end a transaction the central system did not accept.
        await stopSession(connector, 'DeAuthorized');
        return;
    }
    await statusNotification(connector, 'Charging');
    connector.meterWh += METER_STEP_WH;
    await send('MeterValues', {
        connectorId: connector.id,
        transactionId: started.transactionId,
        meterValue: [
            {
                timestamp: now(),
                sampledValue: [
                    energySample(connector.meterWh, 'Sample.Periodic'),
                    {
                        value: '7200',
                        context: 'Sample.Periodic',
                        measurand: 'Power.Active.Import',
                        unit: 'W',
                    },
                ],
            },
        ],
    });
    emit('metered', {
        connectorId: connector.id,
        transactionId: started.transactionId,
        meterWh: connector.meterWh,
    });
}

async function stopSession(connector, reason) {
    const { transactionId, idTag, meterStart } = connector.tx;
    connector.meterWh += STOP_STEP_WH;
    const meterStop = connector.meterWh;
    await statusNotification(connector, 'Finishing');
    // idTag is optional in StopTransaction; leaving it out on even connectors covers both
    // shapes of the server's answer (with and without idTagInfo).
    await send('StopTransaction', {
        transactionId,
        ...(connector.id % 2 === 1 ? { idTag } : {}),
        meterStop,
        timestamp: now(),
        reason,
        transactionData: [
            { timestamp: now(), sampledValue: [energySample(meterStop, 'Transaction.End')] },
        ],
    });
    connector.tx = null;
    emit('transactionStopped', {
        connectorId: connector.id,
        transactionId,
        idTag,
        meterStart,
        meterStop,
        reason,
    });
    await statusNotification(connector, 'Available');
}

// Work that follows a reply runs on a fresh macrotask, after ocpp-rpc has sent the
// CALLRESULT: the server sees "Accepted" before it sees the StartTransaction/StopTransaction.
// (Awaiting our own CALLs inside the handler would not deadlock with ocpp-rpc, but it would
// hold the server's RemoteStart/RemoteStop answer back until the whole session had begun.)
let work = Promise.resolve();
function afterReply(task) {
    setTimeout(() => {
        work = work.then(task).catch((error) => {
            fail('error', { where: 'session', error: describeError(error) });
        });
    }, 0);
}

// --- Inbound CALLs ----------------------------------------------------------------------

function handled(action, handler) {
    client.handle(action, async ({ params, messageId }) => {
        emit('call', { action, messageId, params });
        const result = await handler(params);
        emit('reply', { action, messageId, result });
        return result;
    });
}

handled('RemoteStartTransaction', (params) => {
    const connector =
        params.connectorId !== undefined
            ? connectors.get(params.connectorId)
            : [...connectors.values()].find((c) => c.status === 'Available' && !c.tx);
    if (!connector || connector.tx || connector.status !== 'Available') {
        return { status: 'Rejected' };
    }
    connector.status = 'Preparing'; // claimed now, so a second start is refused
    afterReply(() => startSession(connector, params.idTag));
    return { status: 'Accepted' };
});

handled('RemoteStopTransaction', (params) => {
    const connector = [...connectors.values()].find(
        (c) => c.tx && c.tx.transactionId === params.transactionId,
    );
    if (!connector) {
        return { status: 'Rejected' };
    }
    afterReply(() => stopSession(connector, 'Remote'));
    return { status: 'Accepted' };
});

// The server asks after boot which feature profiles we have (for its fail-safe TxProfile).
// This charger has no smart charging, so it must never receive a charging profile.
handled('GetConfiguration', (params) => ({
    configurationKey: [{ key: 'SupportedFeatureProfiles', readonly: true, value: 'Core' }],
    ...(params.key && !params.key.includes('SupportedFeatureProfiles') ? { unknownKey: params.key } : {}),
}));

// Anything else the server might send is still validated by strict mode (the schema check
// runs before a handler is called), then refused as a real minimal charger would.
client.handle(({ method, params, messageId }) => {
    emit('call', { action: method, messageId, params, unexpected: true });
    throw createRPCError('NotImplemented', `strict_charger does not handle ${method}`);
});

// --- Lifecycle --------------------------------------------------------------------------

let finishing = null;
function finish() {
    if (finishing) return finishing;
    shuttingDown = true;
    finishing = (async () => {
        try {
            await work;
        } catch {
            // already reported
        }
        try {
            await client.close({ code: 1000, reason: 'charger shutting down' });
        } catch (error) {
            emit('error', { where: 'close', error: describeError(error) });
        }
        const code = failures === 0 ? 0 : 1;
        emit('exit', { code, failures });
        process.exit(code);
    })();
    return finishing;
}

process.on('SIGTERM', finish);
process.on('SIGINT', finish);
process.stdin.on('end', finish);
process.stdin.on('close', finish);
process.stdin.resume();

try {
    await client.connect();
} catch (error) {
    emit('error', { where: 'connect', error: describeError(error) });
    emit('exit', { code: 2, failures: failures + 1 });
    process.exit(2);
}
emit('connected', { protocol: client.protocol, identity: client.identity });

const boot = await send('BootNotification', {
    chargePointVendor: 'ocpp-rpc',
    chargePointModel: 'strict_charger',
    chargePointSerialNumber: chargePointId.slice(0, 25),
    firmwareVersion: '2.2',
});
if (boot?.status !== 'Accepted') {
    fail('error', { where: 'boot', message: `BootNotification answered ${boot?.status}` });
}
await send('StatusNotification', {
    connectorId: 0,
    errorCode: 'NoError',
    status: 'Available',
    timestamp: now(),
});
for (const connector of connectors.values()) {
    await statusNotification(connector, 'Available');
}
await send('Heartbeat', {});
// An idTag the server never issued: the answer must still be a schema-valid idTagInfo.
await send('Authorize', { idTag: 'NOT-ISSUED-0001' });
await send('DataTransfer', {
    vendorId: 'org.example.strictcharger',
    messageId: 'hello',
    data: JSON.stringify({ connectors: connectorCount }),
});
emit('ready', { connectors: connectorCount });
