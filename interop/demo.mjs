// The demo: the real @procwire/core 1.5.0 parent (Node 22) spawns a Go
// worker and drives it through every kind of call, printing what happens.
// Run it with `make demo`, or: node demo.mjs path/to/conformance-worker
import { ModuleManager } from "@procwire/core";
import { conformanceModule, blobRequest, sleep } from "./harness.mjs";

const say = (what, value) =>
  console.log(what.padEnd(34), value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value));

const manager = new ModuleManager();
const mod = conformanceModule("go-worker").spawnPolicy({ heartbeat: { intervalMs: 100, timeoutMs: 1000 }, auth: true });
manager.register(mod);
manager.on("error", (name, err) => say(`[${name}] parent error`, err.message));

let t0 = performance.now();
await manager.spawn();
say("spawned Go worker (auth on)", `pid ${mod.process.pid}, ready in ${(performance.now() - t0).toFixed(0)} ms (includes the parent's fixed 100 ms)`);

say("echo {hello: 'world', n: [1,2,3]}", await mod.send("echo", { hello: "world", n: [1, 2, 3] }));
const types = await mod.send("types", null);
say("types: bin is a Buffer", `${Buffer.isBuffer(types.bin)} (${types.bin.toString("hex")})`);
say("types: date is a Date", `${types.date instanceof Date} (${types.date.toISOString()})`);
say("types: big integer", types.big);
say("ack", await mod.send("ack", null));

const counted = [];
for await (const x of mod.stream("count", { n: 5 })) counted.push(x);
say("stream count {n: 5}", counted);

const events = [];
mod.onEvent("progress", (e) => events.push(e.i));
say("progress {n: 5} → result", await mod.send("progress", { n: 5 }));
say("  progress events before it", events);

mod.onEvent("notified", (e) => say("  event notified", e));
await mod.send("notify", { note: "fire and forget" });
await sleep(20);

try { await mod.send("fail", "oops"); } catch (e) { say("fail 'oops' → error", e.message); }
try { await mod.send("failObject", 42); } catch (e) { say("failObject → structured error", { message: e.message, data: e.data }); }
try { await mod.send("panic", null); } catch (e) { say("panic → error, worker lives on", e.message); }

mod.onEvent("aborted", (e) => say("  event aborted", e));
const ac = new AbortController();
const slow = mod.send("sleep", 10_000, { signal: ac.signal });
setTimeout(() => ac.abort(), 30);
try { await slow; } catch (e) { say("sleep 10 s, aborted after 30 ms", e.name); }
await sleep(20);

const size = 64 << 20;
t0 = performance.now();
const back = await mod.send("echoRaw", Buffer.alloc(size, 7));
const ms = performance.now() - t0;
say("echoRaw 64 MiB", `${back.length === size && back[size - 1] === 7 ? "intact" : "CORRUPT"}, ${ms.toFixed(0)} ms, ${((2 * size) / ms / 1000).toFixed(0)} MB/s both ways`);

t0 = performance.now();
let bytes = 0;
for await (const c of mod.stream("blob", blobRequest(256, 1 << 20))) bytes += c.length;
const sms = performance.now() - t0;
say("stream 256 × 1 MiB", `${bytes} bytes, ${(bytes / sms / 1000).toFixed(0)} MB/s`);

const N = 20_000;
t0 = performance.now();
let inflight = [];
for (let i = 0; i < N; i++) {
  inflight.push(mod.send("echo", { i }));
  if (inflight.length === 64) { await Promise.all(inflight); inflight = []; }
}
await Promise.all(inflight);
say(`${N} echoes, 64 in flight`, `${Math.round(N / ((performance.now() - t0) / 1000))} req/s`);

t0 = performance.now();
await manager.shutdown();
say("shutdown", `${(performance.now() - t0).toFixed(0)} ms`);
