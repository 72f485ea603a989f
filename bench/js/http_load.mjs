// HTTP load for bench/api.py, in its own process and cheap per request: node's `http` with a
// keep-alive agent of `concurrency` sockets, each worker sending its next request when the last
// is answered. Reads one JSON job on stdin:
//   {"base": "http://127.0.0.1:PORT/1.2", "key": "...", "concurrency": 16,
//    "method": "POST"|"GET", "paths": [...], "bodies": [...] | null, "seconds": 0 | 10,
//    "idempotency": true (optional: each request with an Idempotency-Key of its own)}
// With seconds 0 each path (and its body) is sent once; otherwise the paths are sent round robin
// until that many seconds have passed. Prints one JSON line: count, non2xx, elapsed (s),
// latencies' p50 and p99 (ms, measured here), and the answers' bodies when asked ("keep": true).
import { randomUUID } from "node:crypto";
import http from "node:http";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString());
const url = new URL(job.base);
const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
const bodies = job.bodies ? job.bodies.map((body) => JSON.stringify(body)) : null;
const latencies = [];
const kept = [];
let non2xx = 0;

function send(index) {
  const body = bodies ? bodies[index] : null;
  const headers = { "x-api-key": job.key };
  if (job.idempotency) headers["idempotency-key"] = randomUUID();
  if (body !== null) {
    headers["content-type"] = "application/json";
    headers["content-length"] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + job.paths[index],
        method: job.method,
        agent,
        headers,
      },
      (response) => {
        const parts = [];
        response.on("data", (part) => parts.push(part));
        response.on("end", () => resolve([response.statusCode, Buffer.concat(parts)]));
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(body ?? undefined);
  });
}

const began = performance.now();
const deadline = began + job.seconds * 1000;
let next = 0;

async function worker() {
  for (;;) {
    if (job.seconds > 0 ? performance.now() >= deadline : next >= job.paths.length) return;
    const index = next++ % job.paths.length;
    const sent = performance.now();
    const [status, answer] = await send(index);
    latencies.push(performance.now() - sent);
    if (status < 200 || status >= 300) non2xx++;
    if (job.keep && status >= 200 && status < 300) kept.push(JSON.parse(answer.toString()));
  }
}

await Promise.all(Array.from({ length: job.concurrency }, worker));
const elapsed = (performance.now() - began) / 1000;
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : null);
process.stdout.write(
  JSON.stringify({ count: latencies.length, non2xx, elapsed, p50: at(0.5), p99: at(0.99), kept }) + "\n",
);
