// An independent OCPP 1.6J / 2.0.1 charger for chargegate's interoperability test.
//
// It is built on the npm package ocpp-rpc in strict mode: every CALL the server sends us and
// every CALLRESULT it answers our CALLs with is validated against ocpp-rpc's own OCPP 1.6 or
// 2.0.1 JSON schemas (not ours); so is everything we send. A validation failure surfaces as a
// 'strictValidationFailure' event and as a rejected call / CALLERROR reply; both are reported
// and make the exit code non-zero.
//
// Usage: node strict_charger.mjs <ws base url> <charge point id> [connector count] [1.6|2.0.1]
//   e.g. node strict_charger.mjs ws://127.0.0.1:8080/ocpp CP-1 2 2.0.1
// Options after them switch on quirks of real stations:
//   --refuse-stops=N        the first N stop requests are answered Rejected
//   --stop-only-when-asked  a stop is accepted and charging ends, but the charger forgets the
//                           transaction without reporting it; asked (1.6 TriggerMessage
//                           StatusNotification, 2.0.1 GetTransactionStatus) it tells the truth
//   --start-answer-names-transaction  (2.0.1) the RequestStartTransaction answer carries the
//                           transactionId the station then starts
//   --started-before-answer (2.0.1) the Started TransactionEvent is sent, and answered, before
//                           the RequestStartTransaction answer
//   --bad-strings           a lone surrogate and a NUL in the vendor name (and, 1.6, in status
//                           info and vendor error codes): schema-valid text no database stores
//   --bad-meter             each periodic energy reading is followed by readings no meter
//                           makes (1.6 "NaN"; 2.0.1 a multiplier of 2147483647): in a MeterValues,
//                           which must be refused with PropertyConstraintViolation (a 'refused'
//                           event, not a failure), and (2.0.1) in an Updated TransactionEvent;
//                           the stop's reading is one too
//   --clear-cache=STATUS    the ClearCache answer (Accepted by default; Rejected as a charger
//                           without an authorization cache answers)
//   --cards=A,B             after boot, each card is presented (Authorize; 2.0.1 as ISO14443),
//                           then 'cardsPresented' is emitted
//   --start-card=A          then a session is started at the charger with card A on
//                           connector 1 (Authorize, StartTransaction; 2.0.1 Authorize,
//                           TransactionEvent Started with triggerReason Authorized)
//   --second-card=B         and then one with card B on connector 2, whatever the Authorize
//                           answer (as a charger that starts on its cache does); one the server
//                           does not accept is ended at once (DeAuthorized)
//   --local-list=N          a local authorization list of at most N entries (1.6 feature
//                           profile LocalAuthListManagement, 2.0.1 LocalAuthListCtrlr); without
//                           it a 1.6 charger reports list version -1 and answers SendLocalList
//                           NotSupported, and a 2.0.1 one does not handle either message
//   --local-list-per-message=N  at most N entries in one SendLocalList (default 10)
//   --reserve=STATUS        the ReserveNow answer (Accepted by default; Occupied, Faulted,
//                           Unavailable, Rejected as stations refuse)
//   --use-reservation       once a ReserveNow is accepted, its card is presented and a session
//                           starts on the reserved connector (connector 1 for connector 0 / no
//                           EVSE) naming the reservationId
//   --report-reservation=S  (2.0.1) once a ReserveNow is accepted, the station reports it
//                           (ReservationStatusUpdate, S: Expired or Removed)
//   --firmware=OUTCOME      how an UpdateFirmware ends (FirmwareStatusNotification, 2.0.1 with
//                           the requestId): Installed (default: Downloading, Downloaded,
//                           Installing, 2.0.1 InstallRebooting, a reboot whose BootNotification
//                           carries the new version, the file name's stem, then Installed),
//                           DownloadFailed, or InstallationFailed (after the reboot, on the old
//                           firmware)
//   --update-firmware=STATUS  (2.0.1) the UpdateFirmware answer (Accepted by default; Rejected,
//                           InvalidCertificate, RevokedCertificate start nothing)
//   --diagnostics=OUTCOME   how a GetDiagnostics (2.0.1 GetLog) upload ends: Uploaded (default)
//                           or Failed (1.6 DiagnosticsStatusNotification UploadFailed, 2.0.1
//                           LogStatusNotification UploadFailure), after Uploading
//   --trigger=STATUS        the TriggerMessage answer (Accepted by default, for the messages
//                           it sends on request: StatusNotification, Heartbeat,
//                           BootNotification; Rejected as TC_055's charger answers)
// The operator's commands are answered as stations do: Reset Accepted (2.0.1 OnIdle with a
// transaction: Scheduled), its transactions end (1.6 HardReset / SoftReset, 2.0.1
// ImmediateReset) and it boots again ('rebooted'); UnlockConnector Unlocked (1.6: its
// transaction ends first, UnlockCommand; 2.0.1: OngoingAuthorizedTransaction), unknown
// connectors NotSupported (1.6) / UnknownConnector; ChangeAvailability Accepted; DataTransfer
// echoes vendor org.chargegate.sim.
//   --smart-charging        it takes charging profiles (1.6 SmartCharging, 2.0.1
//                           SmartChargingCtrlr.Enabled): SetChargingProfile as the spec allows
//                           (TxProfile only on a running transaction, the whole charger's on 0),
//                           ClearChargingProfile by id or criteria (Unknown when none matched),
//                           GetCompositeSchedule (the lowest first-period limit that applies);
//                           a start's chargingProfile is its transaction's TxProfile; a
//                           transaction's TxProfiles end with it
//   --profile-answer=STATUS with --smart-charging: every SetChargingProfile is answered STATUS
//                           (1.6 Rejected or NotSupported, 2.0.1 Rejected) and nothing is
//                           taken, nor a start's profile: a station that reports smart charging
//                           but cannot apply the profiles
//   --password=P            HTTP Basic auth with this password (security profile 1); none
//                           by default
// The protocol defaults to 1.6; the charger offers only that one subprotocol. In 2.0.1 each
// "connector" is an EVSE with one connector (connectorId 1), and the events below name the EVSE
// id as connectorId and the idToken's idToken as idTag, so both versions read alike.
//
// Output: one JSON object per line on stdout, each with "event" and "at" (ISO 8601 UTC) fields:
//   connected, ready, send, result, callFailed, call, reply, transactionStarted, metered,
//   transactionStopped, rebooted, note, refused (an expected CALLERROR), disconnect, exit,
//   applied (--smart-charging: a connector's limit changed: connectorId, limitA (the first
//   period's limit in A of the profiles in force as the spec stacks them; null: none, it may
//   draw maxA), maxA, charging (a transaction runs and draws: not once it is stopping, before its
//   stop is sent, as a real station's energy stops first), atMs (epoch ms, sub-ms, to order events
//   of several chargers)); and the failures strictValidationFailure,
//   badMessage, callError (a CALLERROR received or sent, or a call that timed out), error, and
//   (2.0.1) unwantedChargingProfile: a RequestStartTransaction carried a chargingProfile
//   although this station reported SmartChargingCtrlr.Enabled = false.
// It runs until SIGTERM / SIGINT or until stdin is closed, then closes the connection and exits
// 0 after a clean run, 1 if anything failed, 2 if it could not connect at all.

import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { RPCClient, createRPCError } = require('ocpp-rpc');

const SUBPROTOCOLS = { '1.6': 'ocpp1.6', '2.0.1': 'ocpp2.0.1' };

const positional = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const options = new Map(
    process.argv
        .slice(2)
        .filter((arg) => arg.startsWith('--'))
        .map((arg) => {
            const [name, value] = arg.slice(2).split('=');
            return [name, value ?? 'true'];
        }),
);
let refuseStops = Number.parseInt(options.get('refuse-stops') ?? '0', 10);
const stopOnlyWhenAsked = options.has('stop-only-when-asked');
const clearCacheStatus = options.get('clear-cache') ?? 'Accepted';
const startAnswerNamesTransaction = options.has('start-answer-names-transaction');
const startedBeforeAnswer = options.has('started-before-answer');
// Appended to charger text with --bad-strings (JSON.stringify writes them as \u escapes).
const ODD_TEXT = options.has('bad-strings') ? '\ud800\u0000' : '';
const badMeter = options.has('bad-meter');
const localListCapacity = options.has('local-list')
    ? Number.parseInt(options.get('local-list'), 10)
    : null;
const localListPerMessage = Number.parseInt(options.get('local-list-per-message') ?? '10', 10);
// The local list: entries by upper-cased idTag, and its version (0 while empty).
const localList = { entries: new Map(), version: 0 };
const reserveStatus = options.get('reserve') ?? 'Accepted';
const useReservation = options.has('use-reservation');
const reportReservation = options.get('report-reservation');
const firmwareOutcome = options.get('firmware') ?? 'Installed';
const updateFirmwareStatus = options.get('update-firmware') ?? 'Accepted';
const diagnosticsOutcome = options.get('diagnostics') ?? 'Uploaded';
let firmwareVersion = '2.2';
let rebooting = false;
const triggerStatus = options.get('trigger') ?? 'Accepted';
const smartCharging = options.has('smart-charging');
const profileAnswer = options.get('profile-answer');
// reservationId -> connector id (0: the charger as a whole) of the reservations held.
const reservations = new Map();
const [baseUrl, chargePointId, connectorArg, protocolArg] = positional;
const version = protocolArg ?? '1.6';
if (!baseUrl || !chargePointId || !(version in SUBPROTOCOLS)) {
    process.stderr.write(
        'usage: strict_charger.mjs <ws base url> <charge point id> [connectors] [1.6|2.0.1]\n',
    );
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
    protocols: [SUBPROTOCOLS[version]],
    strictMode: true,
    password: options.get('password') ?? null,
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

// CALLERRORs the server must answer (action -> error code), one per entry, in order.
const expectedErrors = [];

// A CALL the server must refuse with this CALLERROR code; its refusal is not a failure.
async function sendRefused(action, params, code) {
    expectedErrors.push({ action, code });
    return send(action, params);
}

// CALLERRORs in both directions: received in answer to our CALLs, or sent by us (a handler
// threw or an inbound CALL failed strict validation). None but the expected ones may occur.
client.on('callError', (event) => {
    const expected = expectedErrors[0];
    if (
        event.outbound &&
        expected?.action === event.method &&
        expected.code === event.error?.rpcErrorCode
    ) {
        expectedErrors.shift();
        emit('refused', { action: event.method, error: describeError(event.error) });
        return;
    }
    fail('callError', {
        direction: event.outbound ? 'received' : 'sent',
        action: event.method,
        params: event.params,
        error: describeError(event.error),
    });
});

client.on('socketError', (error) => emit('error', { where: 'socket', error: describeError(error) }));

client.on('disconnect', ({ code, reason }) => {
    if (shuttingDown || rebooting) {
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
        ...(ODD_TEXT ? { info: `ok${ODD_TEXT}`, vendorErrorCode: `E0${ODD_TEXT}` } : {}),
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

// --- OCPP 1.6: charging sessions ---------------------------------------------------------

async function startSession(connector, idTag, reservationId) {
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
        ...(reservationId !== undefined ? { reservationId } : {}),
        timestamp: now(),
    });
    if (started === null) return;
    connector.tx = { transactionId: started.transactionId, idTag, meterStart };
    startProfile(connector);
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
    if (badMeter) {
        await sendRefused(
            'MeterValues',
            {
                connectorId: connector.id,
                transactionId: started.transactionId,
                meterValue: [
                    { timestamp: now(), sampledValue: [energySample('NaN', 'Sample.Periodic')] },
                ],
            },
            'PropertyConstraintViolation',
        );
    }
}

async function stopSession(connector, reason) {
    const { transactionId, idTag, meterStart } = connector.tx;
    connector.meterWh += STOP_STEP_WH;
    const meterStop = connector.meterWh;
    stopDrawing(connector);
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
            {
                timestamp: now(),
                sampledValue: [energySample(badMeter ? 'Infinity' : meterStop, 'Transaction.End')],
            },
        ],
    });
    connector.tx = null;
    transactionEnded(connector);
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

// --- OCPP 2.0.1: device model, charging sessions -----------------------------------------

// Every EVSE has a single connector, number 1.
const CONNECTOR_ID = 1;
// An RFID card (a 7-byte ISO 14443 UID) that the server never issued.
const UNKNOWN_CARD = { idToken: '04A1B2C3D4E5F6', type: 'ISO14443' };

// The device model, as far as the server may ask: component -> variable -> Actual value.
// No smart charging, so the server must never send a charging profile. AuthorizeRemoteStart:
// a remote start's idToken is authorised (Authorize) before the transaction starts.
const DEVICE_MODEL = {
    SmartChargingCtrlr: { Enabled: smartCharging ? 'true' : 'false' },
    AuthCtrlr: { AuthorizeRemoteStart: 'true' },
};
const REPORT = Object.entries(DEVICE_MODEL).flatMap(([component, variables]) =>
    Object.entries(variables).map(([variable, value]) => ({
        component: { name: component },
        variable: { name: variable },
        variableAttribute: [{ type: 'Actual', value, mutability: 'ReadOnly' }],
        variableCharacteristics: { dataType: 'boolean', supportsMonitoring: false },
    })),
);

// Variables the server may change (SetVariables): component -> variable -> Actual value.
const WRITABLE = { OCPPCommCtrlr: { OfflineThreshold: '300', HeartbeatInterval: '60' } };
function writableReport() {
    return Object.entries(WRITABLE).flatMap(([component, variables]) =>
        Object.entries(variables).map(([variable, value]) => ({
            component: { name: component },
            variable: { name: variable },
            variableAttribute: [{ type: 'Actual', value, mutability: 'ReadWrite' }],
            variableCharacteristics: { dataType: 'integer', supportsMonitoring: false },
        })),
    );
}

// With a local list: its controller, whose Entries may reach the list's size (MaxSet).
const LOCAL_AUTH_LIST_CTRLR = {
    Enabled: 'true',
    ItemsPerMessage: String(localListPerMessage),
};

function getVariableResult({ component, variable, attributeType }) {
    const entry = {
        ...(attributeType !== undefined ? { attributeType } : {}),
        component,
        variable,
    };
    if (component.name === 'LocalAuthListCtrlr' && localListCapacity !== null) {
        const values =
            variable.name === 'Entries'
                ? { Actual: String(localList.entries.size), MaxSet: String(localListCapacity) }
                : { Actual: LOCAL_AUTH_LIST_CTRLR[variable.name] };
        const value = values[attributeType ?? 'Actual'];
        return value === undefined
            ? { attributeStatus: 'UnknownVariable', ...entry }
            : { attributeStatus: 'Accepted', attributeValue: value, ...entry };
    }
    const known = (table, key) => (Object.hasOwn(table, key) ? table[key] : undefined);
    const variables =
        component.evse === undefined && component.instance === undefined
            ? known(DEVICE_MODEL, component.name) ?? known(WRITABLE, component.name)
            : undefined;
    if (variables === undefined) {
        return { attributeStatus: 'UnknownComponent', ...entry };
    }
    const value = variable.instance === undefined ? known(variables, variable.name) : undefined;
    if (value === undefined) {
        return { attributeStatus: 'UnknownVariable', ...entry };
    }
    if ((attributeType ?? 'Actual') !== 'Actual') {
        return { attributeStatus: 'NotSupportedAttributeType', ...entry };
    }
    return { attributeStatus: 'Accepted', attributeValue: value, ...entry };
}

async function statusNotification201(connector, status) {
    connector.status = status;
    return send('StatusNotification', {
        timestamp: now(),
        connectorStatus: status,
        evseId: connector.id,
        connectorId: CONNECTOR_ID,
    });
}

function energySample201(value, context, multiplier = 0) {
    return {
        value,
        context,
        measurand: ENERGY,
        location: 'Outlet',
        unitOfMeasure: { unit: 'Wh', ...(multiplier ? { multiplier } : {}) },
    };
}

// A multiplier no meter has: 10 ** 2147483647 Wh.
const BAD_MULTIPLIER = 2 ** 31 - 1;

// A TransactionEvent of the connector's transaction, numbered by its own seqNo (0, 1, ...).
async function transactionEvent(connector, eventType, triggerReason, fields) {
    const { tx } = connector;
    const params = {
        eventType,
        timestamp: now(),
        triggerReason,
        seqNo: tx.seqNo,
        ...fields,
        transactionInfo: { transactionId: tx.transactionId, ...fields.transactionInfo },
    };
    tx.seqNo += 1;
    return send('TransactionEvent', params);
}

async function startSession201(connector, idToken, remoteStartId, transactionId, reservationId) {
    // The EV is plugged in; AuthorizeRemoteStart is true, so the token is authorised first.
    await statusNotification201(connector, 'Occupied');
    const auth = await send('Authorize', { idToken });
    if (auth?.idTokenInfo?.status !== 'Accepted') {
        emit('note', {
            message: `Authorize of remote idToken answered ${auth?.idTokenInfo?.status}`,
        });
    }
    const meterStart = connector.meterWh;
    connector.tx = { transactionId, idToken, remoteStartId, meterStart, seqNo: 0 };
    startProfile(connector);
    // Without a remoteStartId the driver's card began it, held to the reader.
    const remote = remoteStartId !== undefined;
    const started = await transactionEvent(connector, 'Started', remote ? 'RemoteStart' : 'Authorized', {
        transactionInfo: { chargingState: 'Charging', ...(remote ? { remoteStartId } : {}) },
        ...(reservationId !== undefined ? { reservationId } : {}),
        idToken,
        evse: { id: connector.id, connectorId: CONNECTOR_ID },
        meterValue: [
            { timestamp: now(), sampledValue: [energySample201(meterStart, 'Transaction.Begin')] },
        ],
    });
    if (started === null) return;
    const status = started.idTokenInfo?.status ?? null;
    emit('transactionStarted', {
        connectorId: connector.id,
        transactionId,
        remoteStartId,
        idTag: idToken.idToken,
        meterStart,
        status,
    });
    if (status !== 'Accepted') {
        // A station must end a transaction whose idToken the server did not accept.
        await stopSession201(connector, 'DeAuthorized');
        return;
    }
    connector.meterWh += METER_STEP_WH;
    await transactionEvent(connector, 'Updated', 'MeterValuePeriodic', {
        transactionInfo: { chargingState: 'Charging' },
        meterValue: [
            {
                timestamp: now(),
                sampledValue: [
                    energySample201(connector.meterWh, 'Sample.Periodic'),
                    {
                        value: 7200,
                        context: 'Sample.Periodic',
                        measurand: 'Power.Active.Import',
                        unitOfMeasure: { unit: 'W' },
                    },
                ],
            },
        ],
    });
    emit('metered', { connectorId: connector.id, transactionId, meterWh: connector.meterWh });
    if (badMeter) {
        const meterValue = [
            {
                timestamp: now(),
                sampledValue: [
                    energySample201(connector.meterWh, 'Sample.Periodic', BAD_MULTIPLIER),
                ],
            },
        ];
        await sendRefused(
            'MeterValues',
            { evseId: connector.id, meterValue },
            'PropertyConstraintViolation',
        );
        await transactionEvent(connector, 'Updated', 'MeterValuePeriodic', { meterValue });
    }
}

async function stopSession201(connector, reason) {
    const { transactionId, idToken, meterStart } = connector.tx;
    connector.meterWh += STOP_STEP_WH;
    const meterStop = connector.meterWh;
    stopDrawing(connector);
    // No idToken: it was sent once (in Started), and a remote stop involves no new one.
    await transactionEvent(
        connector,
        'Ended',
        reason === 'Remote' ? 'RemoteStop' : 'Deauthorized',
        {
            transactionInfo: { chargingState: 'EVConnected', stoppedReason: reason },
            evse: { id: connector.id, connectorId: CONNECTOR_ID },
            meterValue: [
                {
                    timestamp: now(),
                    sampledValue: [
                        energySample201(
                            meterStop,
                            'Transaction.End',
                            badMeter ? BAD_MULTIPLIER : 0,
                        ),
                    ],
                },
            ],
        },
    );
    connector.tx = null;
    transactionEnded(connector);
    emit('transactionStopped', {
        connectorId: connector.id,
        transactionId,
        idTag: idToken.idToken,
        meterStart,
        meterStop,
        reason,
    });
    // The EV is unplugged.
    await statusNotification201(connector, 'Available');
}

// Work that follows a reply runs on a fresh macrotask, after ocpp-rpc has sent the
// CALLRESULT: the server sees "Accepted" before it sees the StartTransaction/StopTransaction
// (2.0.1: the TransactionEvent).
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

// A stop request: refused while --refuse-stops lasts; with --stop-only-when-asked charging
// ends and the transaction is forgotten, unreported.
function answerStop(params, stop) {
    const connector = [...connectors.values()].find(
        (c) => c.tx && c.tx.transactionId === params.transactionId,
    );
    if (!connector || refuseStops > 0) {
        refuseStops = Math.max(0, refuseStops - 1);
        return { status: 'Rejected' };
    }
    if (stopOnlyWhenAsked) {
        emit('transactionForgotten', {
            connectorId: connector.id,
            transactionId: connector.tx.transactionId,
        });
        connector.tx = null;
        transactionEnded(connector);
        connector.status = 'Available';
        return { status: 'Accepted' };
    }
    afterReply(() => stop(connector));
    return { status: 'Accepted' };
}

// The same message in both versions: 1.6 ClearCache.conf, 2.0.1 ClearCacheResponse.
function handleShared() {
    handled('ClearCache', () => ({ status: clearCacheStatus }));
    handled('CancelReservation', (params) => {
        if (!reservations.delete(params.reservationId)) return { status: 'Rejected' };
        return { status: 'Accepted' };
    });
}

// UpdateFirmware in either version: at the retrieve time, the download, the install and the
// reboot, each reported as it goes.
function updateFirmware(location, retrieveAt, requestId) {
    const extra = requestId === undefined ? {} : { requestId };
    const report = (status) => send('FirmwareStatusNotification', { status, ...extra });
    afterReply(async () => {
        const wait = Date.parse(retrieveAt) - Date.now();
        if (Number.isNaN(wait)) {
            fail('error', { where: 'UpdateFirmware', message: `retrieve time ${retrieveAt}` });
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(wait, 60000))));
        await report('Downloading');
        if (firmwareOutcome === 'DownloadFailed') {
            await report('DownloadFailed');
            return;
        }
        await report('Downloaded');
        await report('Installing');
        if (version !== '1.6') await report('InstallRebooting');
        if (firmwareOutcome === 'Installed') {
            firmwareVersion = new URL(location).pathname.split('/').pop().replace(/\.[^.]*$/, '');
        }
        await reconnectAndBoot();
        await report(firmwareOutcome);
    });
}

// After installing firmware: the charger drops its connection (close 1012), opens a new one
// and boots on it (2.0.1 reason PowerUp) with its new firmware version, ending no transaction.
// Unlike reboot(reason), the server sees the charger reconnect.
async function reconnectAndBoot() {
    rebooting = true;
    await client.close({ code: 1012, reason: 'rebooting' });
    rebooting = false;
    await client.connect();
    emit('rebooted', { firmwareVersion });
    await (version === '1.6' ? bootV16() : bootV201());
}

// GetDiagnostics (2.0.1 GetLog): the upload, reported as it goes.
function uploadDiagnostics(requestId) {
    const action = version === '1.6' ? 'DiagnosticsStatusNotification' : 'LogStatusNotification';
    const failed = version === '1.6' ? 'UploadFailed' : 'UploadFailure';
    afterReply(async () => {
        const extra = requestId === undefined ? {} : { requestId };
        await send(action, { status: 'Uploading', ...extra });
        const status = diagnosticsOutcome === 'Uploaded' ? 'Uploaded' : failed;
        await send(action, { status, ...extra });
    });
    return `${chargePointId}-diagnostics.log`;
}

// --- The operator's commands ------------------------------------------------------------

const busy = () => [...connectors.values()].some((c) => c.tx);

// A reset: the transactions end with `reason` (HardReset, SoftReset, ImmediateReset), then the
// charger boots again (2.0.1 reason RemoteReset) on the same connection, which stays open.
// Unlike reconnectAndBoot(), the server sees no new connection: the protocol's view of a
// restart, enough for the reset cases.
async function reboot(reason) {
    for (const connector of connectors.values()) {
        if (!connector.tx) continue;
        if (version === '1.6') await stopSession(connector, reason);
        else await stopSession201(connector, reason);
    }
    if (version === '1.6') await bootV16();
    else await bootV201('RemoteReset');
    emit('rebooted', { reason });
}

function handleOperations() {
    handled('Reset', (params) => {
        if (version === '1.6') {
            afterReply(() => reboot(params.type === 'Hard' ? 'HardReset' : 'SoftReset'));
            return { status: 'Accepted' };
        }
        if (params.type === 'OnIdle' && busy()) {
            // Once the transactions have ended (not within a test).
            return { status: 'Scheduled' };
        }
        afterReply(() => reboot('ImmediateReset'));
        return { status: 'Accepted' };
    });
    handled('UnlockConnector', (params) => {
        const connector = connectors.get(version === '1.6' ? params.connectorId : params.evseId);
        if (!connector) return { status: version === '1.6' ? 'NotSupported' : 'UnknownConnector' };
        if (connector.tx && version !== '1.6') return { status: 'OngoingAuthorizedTransaction' };
        if (connector.tx) afterReply(() => stopSession(connector, 'UnlockCommand'));
        return { status: 'Unlocked' };
    });
    handled('ChangeAvailability', () => ({ status: 'Accepted' }));
    // Also asked (1.6) for a connector's status, to learn whether a transaction still runs.
    handled('TriggerMessage', (params) => {
        if (triggerStatus !== 'Accepted') return { status: triggerStatus };
        const id = version === '1.6' ? params.connectorId : params.evse?.id;
        const wanted = id === undefined ? [...connectors.values()] : [connectors.get(id)];
        if (wanted.includes(undefined)) return { status: 'Rejected' };
        switch (params.requestedMessage) {
            case 'StatusNotification':
                afterReply(async () => {
                    for (const connector of wanted) {
                        if (version === '1.6') await statusNotification(connector, connector.status);
                        else await statusNotification201(connector, connector.status);
                    }
                });
                return { status: 'Accepted' };
            case 'Heartbeat':
                afterReply(() => send('Heartbeat', {}));
                return { status: 'Accepted' };
            default:
                return { status: 'NotImplemented' };
        }
    });
    handled('DataTransfer', (params) => {
        if (params.vendorId !== 'org.chargegate.sim') return { status: 'UnknownVendorId' };
        return { status: 'Accepted', ...(params.data !== undefined ? { data: params.data } : {}) };
    });
}

// ReserveNow in either version: connector (EVSE) 0 / none is the charger as a whole.
function reserve(reservationId, connectorId, expiry, startUsing) {
    if (reserveStatus !== 'Accepted') return { status: reserveStatus };
    const connector = connectors.get(connectorId || 1);
    if (!connector) return { status: 'Rejected' };
    if (connector.tx) return { status: 'Occupied' };
    if (Date.parse(expiry) <= Date.now()) {
        fail('error', { where: 'ReserveNow', message: `expiry ${expiry} has passed` });
    }
    reservations.set(reservationId, connectorId);
    if (useReservation) {
        afterReply(() => {
            reservations.delete(reservationId);
            return startUsing(connector);
        });
    }
    return { status: 'Accepted' };
}

// SendLocalList in either version's wording: a differential must be above the current version;
// more entries than a message or the list may hold fail.
function updateLocalList(params, versionKey) {
    const items = params.localAuthorizationList ?? [];
    const requested = params[versionKey];
    const current = localList.entries.size === 0 ? 0 : localList.version;
    const full = params.updateType === 'Full';
    if (!full && requested <= current) {
        return 'VersionMismatch';
    }
    if (items.length > localListPerMessage) {
        return 'Failed';
    }
    const held = full ? new Map() : new Map(localList.entries);
    for (const item of items) {
        const tag = (item.idTag ?? item.idToken.idToken).toUpperCase();
        if (item.idTagInfo || item.idTokenInfo) {
            held.set(tag, item);
        } else {
            held.delete(tag);
        }
    }
    if (held.size > localListCapacity) {
        return 'Failed';
    }
    localList.entries = held;
    localList.version = requested;
    emit('localList', { version: requested, entries: [...held.keys()].sort() });
    return 'Accepted';
}

function listVersion() {
    return localList.entries.size === 0 ? 0 : localList.version;
}

function handleLocalList() {
    if (version === '1.6') {
        handled('GetLocalListVersion', () => ({
            listVersion: localListCapacity === null ? -1 : listVersion(),
        }));
        handled('SendLocalList', (params) => ({
            status:
                localListCapacity === null ? 'NotSupported' : updateLocalList(params, 'listVersion'),
        }));
    } else if (localListCapacity !== null) {
        handled('GetLocalListVersion', () => ({ versionNumber: listVersion() }));
        handled('SendLocalList', (params) => ({
            status: updateLocalList(params, 'versionNumber'),
        }));
    }
}

function handleV16() {
    handled('RemoteStartTransaction', (params) => {
        const connector =
            params.connectorId !== undefined
                ? connectors.get(params.connectorId)
                : [...connectors.values()].find((c) => c.status === 'Available' && !c.tx);
        if (!connector || connector.tx || connector.status !== 'Available') {
            return { status: 'Rejected' };
        }
        connector.status = 'Preparing'; // claimed now, so a second start is refused
        connector.startProfile = params.chargingProfile;
        afterReply(() => startSession(connector, params.idTag));
        return { status: 'Accepted' };
    });

    handled('RemoteStopTransaction', (params) =>
        answerStop(params, (connector) => stopSession(connector, 'Remote')),
    );

    handled('ReserveNow', (params) =>
        reserve(params.reservationId, params.connectorId, params.expiryDate, (connector) =>
            startSession(connector, params.idTag, params.reservationId),
        ),
    );

    handled('UpdateFirmware', (params) => {
        updateFirmware(params.location, params.retrieveDate);
        return {};
    });

    handled('GetDiagnostics', () => ({ fileName: uploadDiagnostics() }));

    // The server asks after boot which feature profiles we have (for its fail-safe TxProfile).
    // This charger has no smart charging, so it must never receive a charging profile.
    // With a local list, the profile and its keys too. Two Core keys may be changed.
    const configuration = new Map([
        [
            'SupportedFeatureProfiles',
            {
                value: ['Core']
                    .concat(localListCapacity === null ? [] : ['LocalAuthListManagement'])
                    .concat(smartCharging ? ['SmartCharging'] : [])
                    .join(','),
                readonly: true,
            },
        ],
        ['HeartbeatInterval', { value: '60', readonly: false }],
        ['MeterValueSampleInterval', { value: '10', readonly: false }],
        ...(localListCapacity === null
            ? []
            : [
                  ['LocalAuthListEnabled', { value: 'true', readonly: true }],
                  ['LocalAuthListMaxLength', { value: String(localListCapacity), readonly: true }],
                  ['SendLocalListMaxLength', { value: String(localListPerMessage), readonly: true }],
              ]),
    ]);
    handled('GetConfiguration', (params) => {
        const asked = params.key ?? [...configuration.keys()];
        const unknown = asked.filter((key) => !configuration.has(key));
        return {
            configurationKey: asked
                .filter((key) => configuration.has(key))
                .map((key) => ({ key, ...configuration.get(key) })),
            ...(unknown.length ? { unknownKey: unknown } : {}),
        };
    });
    // Unknown keys NotSupported, read-only ones and values that are no whole number Rejected.
    handled('ChangeConfiguration', (params) => {
        const held = configuration.get(params.key);
        if (!held) return { status: 'NotSupported' };
        if (held.readonly || !/^[0-9]+$/.test(params.value)) return { status: 'Rejected' };
        held.value = params.value;
        return { status: 'Accepted' };
    });
}

function handleV201() {
    handled('RequestStartTransaction', (params) => {
        if (params.chargingProfile !== undefined && !smartCharging) {
            // We said SmartChargingCtrlr.Enabled = false: a profile here is the server's fault.
            fail('unwantedChargingProfile', {
                action: 'RequestStartTransaction',
                chargingProfile: params.chargingProfile,
            });
        }
        const connector =
            params.evseId !== undefined
                ? connectors.get(params.evseId)
                : [...connectors.values()].find((c) => c.status === 'Available' && !c.tx);
        if (!connector || connector.tx || connector.status !== 'Available') {
            return { status: 'Rejected' };
        }
        connector.status = 'Occupied'; // claimed now, so a second start is refused
        connector.startProfile = params.chargingProfile;
        const transactionId = randomUUID();
        const begin = () =>
            startSession201(connector, params.idToken, params.remoteStartId, transactionId);
        const answer = {
            status: 'Accepted',
            ...(startAnswerNamesTransaction ? { transactionId } : {}),
        };
        if (startedBeforeAnswer) {
            return begin().then(() => answer);
        }
        afterReply(begin);
        return answer;
    });

    handled('RequestStopTransaction', (params) =>
        answerStop(params, (connector) => stopSession201(connector, 'Remote')),
    );

    handled('ReserveNow', (params) => {
        const answer = reserve(params.id, params.evseId, params.expiryDateTime, (connector) =>
            startSession201(connector, params.idToken, undefined, randomUUID(), params.id),
        );
        if (answer.status === 'Accepted' && reportReservation !== undefined) {
            afterReply(() => {
                reservations.delete(params.id);
                return send('ReservationStatusUpdate', {
                    reservationId: params.id,
                    reservationUpdateStatus: reportReservation,
                });
            });
        }
        return answer;
    });

    handled('UpdateFirmware', (params) => {
        if (updateFirmwareStatus === 'Accepted') {
            const { location, retrieveDateTime } = params.firmware;
            updateFirmware(location, retrieveDateTime, params.requestId);
        }
        return { status: updateFirmwareStatus };
    });

    handled('GetLog', (params) => {
        if (params.logType !== 'DiagnosticsLog') {
            fail('error', { where: 'GetLog', message: `logType ${params.logType}` });
        }
        return { status: 'Accepted', filename: uploadDiagnostics(params.requestId) };
    });

    handled('GetTransactionStatus', (params) => {
        const ongoing = [...connectors.values()].some(
            (c) => c.tx && c.tx.transactionId === params.transactionId,
        );
        return {
            ...(params.transactionId !== undefined ? { ongoingIndicator: ongoing } : {}),
            messagesInQueue: false,
        };
    });

    // The server asks after boot whether we take charging profiles (for its fail-safe
    // TxProfile): SmartChargingCtrlr.Enabled is "false", so it must never send one.
    handled('GetVariables', (params) => ({
        getVariableResult: params.getVariableData.map(getVariableResult),
    }));

    // Whole numbers into the writable variables; read-only ones Rejected.
    handled('SetVariables', (params) => ({
        setVariableResult: params.setVariableData.map(
            ({ component, variable, attributeType, attributeValue }) => {
                const entry = {
                    ...(attributeType !== undefined ? { attributeType } : {}),
                    component,
                    variable,
                };
                const writable = component.evse === undefined && component.instance === undefined;
                const variables = writable ? WRITABLE[component.name] : undefined;
                if (variables && Object.hasOwn(variables, variable.name)) {
                    if (!/^[0-9]+$/.test(attributeValue)) {
                        return { attributeStatus: 'Rejected', ...entry };
                    }
                    variables[variable.name] = attributeValue;
                    return { attributeStatus: 'Accepted', ...entry };
                }
                const known = getVariableResult({ component, variable });
                const status = known.attributeStatus === 'Accepted' ? 'Rejected' : known.attributeStatus;
                return { attributeStatus: status, ...entry };
            },
        ),
    }));

    // Accepted, then the whole device model in NotifyReport parts of one variable each.
    handled('GetBaseReport', (params) => {
        if (params.reportBase !== 'FullInventory') return { status: 'NotSupported' };
        const report = [...REPORT, ...writableReport()];
        afterReply(async () => {
            const generatedAt = now();
            for (const [seqNo, item] of report.entries()) {
                await send('NotifyReport', {
                    requestId: params.requestId,
                    generatedAt,
                    seqNo,
                    tbc: seqNo < report.length - 1,
                    reportData: [item],
                });
            }
        });
        return { status: 'Accepted' };
    });
}

// --- Smart charging (--smart-charging) ---------------------------------------------------

const profiles = new Map(); // id -> { port, purpose, stackLevel, unit, limit, phases }
// What a port draws when no profile limits it, and the volts a W limit is converted at.
const MAX_A = 32;
const VOLTS = 230;
const CHARGER_MAX = ['ChargePointMaxProfile', 'ChargingStationMaxProfile'];

function keep(id, port, profile) {
    const schedule = Array.isArray(profile.chargingSchedule)
        ? profile.chargingSchedule[0]
        : profile.chargingSchedule;
    const first = schedule.chargingSchedulePeriod[0];
    profiles.set(id, {
        port,
        purpose: profile.chargingProfilePurpose,
        stackLevel: profile.stackLevel,
        unit: schedule.chargingRateUnit,
        limit: first.limit,
        phases: first.numberPhases ?? 3,
    });
}

// The limit of the highest stack level among `purposes` on the port (or 0), in A.
function topLimitA(purposes, port) {
    const found = [...profiles.values()].filter(
        (kept) => purposes.includes(kept.purpose) && (kept.port === port || kept.port === 0),
    );
    if (!found.length) return null;
    found.sort((a, b) => b.stackLevel - a.stackLevel || (b.port === port) - (a.port === port));
    const top = found[0];
    return top.unit === 'A' ? top.limit : top.limit / (VOLTS * top.phases);
}

// A TxProfile replaces the TxDefaultProfile while its transaction runs; the whole charger's
// maximum caps both.
function appliedA(connector) {
    let own = connector.tx ? topLimitA(['TxProfile'], connector.id) : null;
    if (own === null) own = topLimitA(['TxDefaultProfile'], connector.id);
    const limits = [topLimitA(CHARGER_MAX, 0), own].filter((limit) => limit !== null);
    return limits.length ? Math.min(...limits) : null;
}

function reportApplied() {
    if (!smartCharging) return;
    for (const connector of connectors.values()) {
        const limitA = appliedA(connector);
        const charging = Boolean(connector.tx) && !connector.stopping;
        const key = `${limitA}|${charging}`;
        if (connector.lastApplied === key) continue;
        connector.lastApplied = key;
        const atMs = performance.timeOrigin + performance.now();
        emit('applied', { connectorId: connector.id, limitA, maxA: MAX_A, charging, atMs });
    }
}

// The profile a start carried becomes its transaction's TxProfile.
function startProfile(connector) {
    const profile = connector.startProfile;
    connector.startProfile = undefined;
    if (profile !== undefined && smartCharging && profileAnswer === undefined) {
        keep(profile.chargingProfileId ?? profile.id, connector.id, profile);
    }
    reportApplied();
}

// The energy stops before the stop is reported: the server may hand the room to another
// session as soon as it reads the report.
function stopDrawing(connector) {
    connector.stopping = true;
    reportApplied();
}

function transactionEnded(connector) {
    connector.stopping = false;
    for (const [held, kept] of profiles) {
        if (kept.port === connector.id && kept.purpose === 'TxProfile') profiles.delete(held);
    }
    reportApplied();
}

function handleSmartCharging() {
    const v16 = version === '1.6';
    const portOf = (params) => (v16 ? params.connectorId : params.evseId);
    handled('SetChargingProfile', (params) => {
        if (profileAnswer !== undefined) return { status: profileAnswer };
        const port = portOf(params);
        const profile = v16 ? params.csChargingProfiles : params.chargingProfile;
        const id = v16 ? profile.chargingProfileId : profile.id;
        const purpose = profile.chargingProfilePurpose;
        const whole = purpose === 'ChargePointMaxProfile' || purpose === 'ChargingStationMaxProfile';
        if (port !== 0 && !connectors.has(port)) return { status: 'Rejected' };
        if (whole !== (port === 0) && purpose !== 'TxDefaultProfile') return { status: 'Rejected' };
        if (purpose === 'TxProfile') {
            const tx = connectors.get(port).tx;
            // 2.0.1 names the transaction (K01.FR.03); 1.6 may leave it out.
            if (!tx || (!v16 && profile.transactionId === undefined)) return { status: 'Rejected' };
            if (profile.transactionId !== undefined && profile.transactionId !== tx.transactionId) {
                return { status: 'Rejected' };
            }
        }
        for (const [held, kept] of profiles) {
            const same = kept.port === port && kept.purpose === purpose;
            if (held !== id && same && kept.stackLevel === profile.stackLevel) {
                if (!v16) return { status: 'Rejected' };
                profiles.delete(held);
            }
        }
        keep(id, port, profile);
        reportApplied();
        return { status: 'Accepted' };
    });
    handled('ClearChargingProfile', (params) => {
        const id = v16 ? params.id : params.chargingProfileId;
        const criteria = v16 ? params : params.chargingProfileCriteria ?? {};
        const port = v16 ? criteria.connectorId : criteria.evseId;
        let cleared = 0;
        for (const [held, kept] of profiles) {
            const matches =
                id !== undefined
                    ? held === id
                    : (port === undefined || kept.port === port) &&
                      (criteria.chargingProfilePurpose === undefined ||
                          kept.purpose === criteria.chargingProfilePurpose) &&
                      (criteria.stackLevel === undefined || kept.stackLevel === criteria.stackLevel);
            if (matches) {
                profiles.delete(held);
                cleared += 1;
            }
        }
        reportApplied();
        return { status: cleared ? 'Accepted' : 'Unknown' };
    });
    handled('GetCompositeSchedule', (params) => {
        const port = portOf(params);
        if (port !== 0 && !connectors.has(port)) return { status: 'Rejected' };
        const unit = params.chargingRateUnit ?? 'A';
        const limits = [...profiles.values()]
            .filter((kept) => kept.unit === unit && (kept.port === 0 || kept.port === port))
            .map((kept) => kept.limit);
        const now = new Date().toISOString();
        const schedule = {
            duration: params.duration,
            chargingRateUnit: unit,
            chargingSchedulePeriod: [
                { startPeriod: 0, limit: limits.length ? Math.min(...limits) : unit === 'A' ? 32 : 22080 },
            ],
        };
        if (v16) {
            return { status: 'Accepted', connectorId: port, scheduleStart: now, chargingSchedule: schedule };
        }
        return { status: 'Accepted', schedule: { evseId: port, scheduleStart: now, ...schedule } };
    });
}

// Anything else the server might send is still validated by strict mode (the schema check
// runs before a handler is called), then refused as a real minimal charger would.
client.handle(({ method, params, messageId }) => {
    emit('call', { action: method, messageId, params, unexpected: true });
    throw createRPCError('NotImplemented', `strict_charger does not handle ${method}`);
});

handleShared();
handleOperations();
if (smartCharging) handleSmartCharging();
handleLocalList();
if (version === '1.6') {
    handleV16();
} else {
    handleV201();
}

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

// --- Boot --------------------------------------------------------------------------------

async function bootV16() {
    const boot = await send('BootNotification', {
        chargePointVendor: `ocpp-rpc${ODD_TEXT}`,
        chargePointModel: 'strict_charger',
        chargePointSerialNumber: chargePointId.slice(0, 25),
        firmwareVersion,
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
}

async function bootV201(reason = 'PowerUp') {
    const boot = await send('BootNotification', {
        reason,
        chargingStation: {
            vendorName: `ocpp-rpc${ODD_TEXT}`,
            model: 'strict_charger',
            serialNumber: chargePointId.slice(0, 25),
            firmwareVersion,
        },
    });
    if (boot?.status !== 'Accepted') {
        fail('error', { where: 'boot', message: `BootNotification answered ${boot?.status}` });
    }
    for (const connector of connectors.values()) {
        await statusNotification201(connector, 'Available');
    }
    await send('Heartbeat', {});
    // The station's main meter (EVSE 0): not a port, but the answer must still be schema-valid.
    await send('MeterValues', {
        evseId: 0,
        meterValue: [
            {
                timestamp: now(),
                sampledValue: [
                    energySample201(
                        [...connectors.values()].reduce((sum, c) => sum + c.meterWh, 0),
                        'Sample.Clock',
                    ),
                ],
            },
        ],
    });
    // A card the server never issued: the answer must still be a schema-valid idTokenInfo.
    await send('Authorize', { idToken: UNKNOWN_CARD });
    // Unsolicited, as some stations do after boot: the device model GetVariables reads from.
    await send('NotifyReport', {
        requestId: 0,
        generatedAt: now(),
        seqNo: 0,
        tbc: false,
        reportData: REPORT,
    });
    await send('DataTransfer', {
        vendorId: 'org.example.strictcharger',
        messageId: 'hello',
        data: { connectors: connectorCount },
    });
    emit('ready', { connectors: connectorCount });
}

if (version === '1.6') {
    await bootV16();
} else {
    await bootV201();
}

for (const card of (options.get('cards') ?? '').split(',').filter(Boolean)) {
    if (version === '1.6') {
        await send('Authorize', { idTag: card });
    } else {
        await send('Authorize', { idToken: { idToken: card, type: 'ISO14443' } });
    }
}
// A session begun at the charger with a card, on connector (EVSE) N.
async function cardSession(id, card) {
    if (version === '1.6') {
        await startSession(connectors.get(id), card);
    } else {
        const token = { idToken: card, type: 'ISO14443' };
        await startSession201(connectors.get(id), token, undefined, randomUUID());
    }
}
if (options.has('start-card')) {
    await cardSession(1, options.get('start-card'));
}
if (options.has('second-card')) {
    await cardSession(2, options.get('second-card'));
}
emit('cardsPresented');
