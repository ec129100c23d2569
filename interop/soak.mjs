// The soak test: a million mixed requests (echo, stream, ack, notify,
// aborted sleeps) from the real parent with heartbeat {20 ms, 200 ms}.
// Passes when no heartbeat kill, no failed request, and the worker's
// goroutines and RSS are flat from the first to the last 100 000.
//   PROCWIRE_WORKER=path/to/soak-worker node soak.mjs [total]
import { readFileSync } from "node:fs";
import { ModuleManager, Module } from "@procwire/core";

const total = Number(process.argv[2] || 1_000_000);
const window = Math.max(1, Math.floor(total / 10));
const mod = new Module("soak")
  .executable(process.env.PROCWIRE_WORKER, [])
  .method("echo").method("count", { response: "stream" }).method("ack", { response: "ack" })
  .method("notify", { response: "none" }).method("sleep", { cancellable: true }).method("runtime")
  .event("notified").event("aborted")
  .spawnPolicy({ heartbeat: { intervalMs: 20, timeoutMs: 200 }, maxRetries: 0 });
const manager = new ModuleManager();
const errors = [];
manager.on("error", (_n, e) => errors.push(e.message));
manager.register(mod);
await manager.spawn();
const pid = mod.process.pid;
let notified = 0, abortedEvents = 0;
mod.onEvent("notified", () => notified++);
mod.onEvent("aborted", () => abortedEvents++);

const rss = () => Number((readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m) || [])[1] || 0) * 1024;
const counts = { echo: 0, count: 0, ack: 0, notify: 0, abort: 0, failed: 0 };
const samples = [];
let done = 0;
const t0 = performance.now();

async function one(i) {
  const k = i % 20;
  try {
    if (k < 13) {
      const v = { i, s: "soak" };
      const r = await mod.send("echo", v);
      if (r.i !== i) throw new Error("echo mismatch");
      counts.echo++;
    } else if (k < 15) {
      let n = 0;
      for await (const x of mod.stream("count", { n: 5 })) if (x !== n++) throw new Error("stream order");
      if (n !== 5) throw new Error("short stream");
      counts.count++;
    } else if (k < 17) {
      const r = await mod.send("ack", i);
      if (!r.ok) throw new Error("ack");
      counts.ack++;
    } else if (k < 19) {
      await mod.send("notify", i);
      counts.notify++;
    } else {
      const ac = new AbortController();
      const p = mod.send("sleep", 1000, { signal: ac.signal });
      setTimeout(() => ac.abort(), 1);
      try { await p; throw new Error("sleep not aborted"); } catch (e) { if (e.name !== "AbortError") throw e; }
      counts.abort++;
    }
  } catch (e) {
    counts.failed++;
    if (counts.failed < 10) console.error("request failed:", e.message);
  }
}

let next = 0;
async function lane() {
  while (next < total) {
    const i = next++;
    await one(i);
    done++;
    if (done % window === 0) {
      const rt = await mod.send("runtime", null);
      samples.push({ done, rssMiB: rss() / (1 << 20), goroutines: rt.goroutines, heapMiB: rt.heapBytes / (1 << 20), inFlight: rt.stats.inFlight });
      console.error(`${done} requests, ${((performance.now() - t0) / 1000).toFixed(1)} s, RSS ${(rss() / (1 << 20)).toFixed(1)} MiB, goroutines ${rt.goroutines}, heap ${(rt.heapBytes / (1 << 20)).toFixed(1)} MiB`);
    }
  }
}
await Promise.all(Array.from({ length: 32 }, lane));
await new Promise((r) => setTimeout(r, 200));
const secs = (performance.now() - t0) / 1000;
const state = mod.state;
await manager.shutdown();

const first = samples[0], last = samples[samples.length - 1];
const heartbeatKills = errors.filter((m) => /heartbeat/.test(m)).length;
const result = {
  total, seconds: secs, rps: total / secs, counts, notifiedEvents: notified, abortedEvents,
  heartbeatKills, parentErrors: errors, stateAtEnd: state, samples,
  rssFirstMiB: first.rssMiB, rssLastMiB: last.rssMiB, goroutinesFirst: first.goroutines, goroutinesLast: last.goroutines,
};
console.log(JSON.stringify(result, null, 2));
const flat = last.rssMiB <= first.rssMiB * 1.25 + 4 && last.goroutines <= first.goroutines + 8;
const ok = heartbeatKills === 0 && counts.failed === 0 && errors.length === 0 && state === "ready" && flat;
console.error(ok ? "SOAK PASSED" : "SOAK FAILED");
process.exit(ok ? 0 : 1);
