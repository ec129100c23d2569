// One benchmark run of one worker under the real @procwire/core parent.
// The Go command in bench/ runs this for each implementation in alternating
// repetitions and compares medians; run it alone as:
//   PROCWIRE_WORKER=path [PROCWIRE_WORKER_ARGS='["x.mjs"]'] node bench.mjs [quick]
// It prints one JSON object on stdout; progress goes to stderr.
import { readFileSync, readdirSync } from "node:fs";
import { ModuleManager } from "@procwire/core";
import { rawCodec } from "@procwire/codecs";
import { workerModule, blobRequest, sleep } from "./harness.mjs";

const quick = process.argv.includes("quick");
const log = (...a) => process.stderr.write(a.join(" ") + "\n");

const small = {
  id: 12345, name: "procwire benchmark", tags: ["alpha", "beta", "gamma"],
  score: 98.6, enabled: true, note: "a small object of about one hundred bytes",
};

function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m")) || [])[1] || 0) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

// CPU time of a process in ns: the sum over its threads of the kernel's
// per-thread accounting (/proc/PID/task/TID/schedstat, first field: time
// on a CPU). Stable from run to run where throughput is not.
function cpuNs(pid) {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {} // a thread that just ended
    }
  } catch {}
  return ns;
}

// cpuMark notes the worker's and this parent's CPU time; cpuPer(mark, n)
// returns the CPU time since then, in µs, divided by n (requests or MiB).
let workerPid = 0;
const cpuMark = () => ({ w: cpuNs(workerPid), p: cpuNs(process.pid) });
const cpuPer = (m, n) => {
  const now = cpuMark();
  return { worker: (now.w - m.w) / 1e3 / n, parent: (now.p - m.p) / 1e3 / n };
};

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const mod = workerModule("bench")
  .method("echo")
  .method("echoRaw", { codec: rawCodec })
  .method("blob", { response: "stream", codec: rawCodec })
  .spawnPolicy({ maxRetries: 0 });
const manager = new ModuleManager();
manager.register(mod);
let t0 = performance.now();
await manager.spawn();
const spawnMs = performance.now() - t0;
const pid = mod.process.pid;
workerPid = pid;
await sleep(200);
const idleRss = procStatus(pid).rss;
const out = { spawnMs, idleRssBytes: idleRss };

// Sequential small echo: round-trip latency.
{
  const n = quick ? 3000 : 10000;
  for (let i = 0; i < (quick ? 2000 : 5000); i++) await mod.send("echo", small);
  const lat = new Float64Array(n);
  const c0 = cpuMark();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await mod.send("echo", small);
    lat[i] = (performance.now() - s) * 1000;
  }
  out.seqCpuUs = cpuPer(c0, n);
  out.seqP50us = pct(lat, 50);
  out.seqP99us = pct(lat, 99);
  log(`  seq echo p50 ${out.seqP50us.toFixed(1)} µs p99 ${out.seqP99us.toFixed(1)} µs`);
}

// 64 in flight.
{
  const total = quick ? 20000 : 100000;
  let sent = 0;
  const c0 = cpuMark();
  const s = performance.now();
  async function lane() {
    while (sent < total) {
      sent++;
      await mod.send("echo", small);
    }
  }
  await Promise.all(Array.from({ length: 64 }, lane));
  out.inflight64Rps = total / ((performance.now() - s) / 1000);
  out.inflight64CpuUs = cpuPer(c0, total);
  log(`  64 in flight ${Math.round(out.inflight64Rps)} req/s`);
}

// Raw echo sweep (bytes moved both ways / time) and the 64 MiB point.
out.sweep = {};
const sizes = [1 << 10, 16 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20];
for (const size of sizes) {
  const buf = Buffer.alloc(size, 1);
  const reps = Math.max(3, Math.min(quick ? 200 : 2000, Math.floor((quick ? 64 : 256) * (1 << 20) / size)));
  await mod.send("echoRaw", buf);
  const c0 = cpuMark();
  const s = performance.now();
  for (let i = 0; i < reps; i++) {
    const r = await mod.send("echoRaw", buf);
    if (r.length !== size) throw new Error("short echo");
  }
  const secs = (performance.now() - s) / 1000;
  out.sweep[size] = (2 * size * reps) / secs / 1e6;
  if (size === 64 << 20) out.echo64MiBCpuUsPerMiB = cpuPer(c0, (2 * size * reps) / (1 << 20));
  log(`  echoRaw ${size} B: ${out.sweep[size].toFixed(0)} MB/s`);
}
out.echo64MiBMBps = out.sweep[64 << 20];
out.echo64MiBPeakRssBytes = procStatus(pid).hwm;

// Stream of 256 × 1 MiB raw chunks.
{
  const runs = quick ? 2 : 5;
  const rates = [];
  const c0 = cpuMark();
  let total = 0;
  for (let r = 0; r < runs; r++) {
    const s = performance.now();
    let bytes = 0;
    for await (const c of mod.stream("blob", blobRequest(256, 1 << 20))) bytes += c.length;
    total += bytes;
    rates.push(bytes / ((performance.now() - s) / 1000) / 1e6);
  }
  out.stream256MBps = pct(rates, 50);
  out.stream256CpuUsPerMiB = cpuPer(c0, total / (1 << 20));
  log(`  stream 256 × 1 MiB ${out.stream256MBps.toFixed(0)} MB/s`);
}

t0 = performance.now();
await manager.shutdown();
out.shutdownMs = performance.now() - t0;
process.stdout.write(JSON.stringify(out) + "\n");
