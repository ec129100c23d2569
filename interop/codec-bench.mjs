// Codec micro-benchmarks with the real @procwire/codecs 2.0.0 in Node: the
// time one encode or decode of a payload takes, for comparison with the Go
// codecs' benchmarks (go test -bench . ./codec/...). Run it as
//   node codec-bench.mjs [name-prefix]
// It prints one JSON line per case, {"name": "...", "nsPerOp": N,
// "cpuNsPerOp": C}: the wall time of a call and the process's CPU time per
// call (process.cpuUsage: every thread, the garbage collector's included);
// progress goes to stderr. CODEC_BENCH_MS sets how long each case runs
// (after a warm-up as long; default 1000). Each family of cases lives in its own function, listed in
// `families` at the end.
import { vectorFromArray, Table, Float64, Int32, Utf8 } from "apache-arrow";
import { arrowCodec } from "@procwire/codecs/arrow";
import { msgpackCodec } from "@procwire/codecs";

const log = (...a) => process.stderr.write(a.join(" ") + "\n");

/**
 * Runs fn repeatedly for at least minMs (after a warm-up of the same
 * length), in rounds that double until one lasts 50 ms, and prints its
 * mean time per call.
 */
function measure(name, fn, minMs = Number(process.env.CODEC_BENCH_MS) || 1000) {
  const filter = process.argv[2];
  if (filter && !name.startsWith(filter)) return;
  const run = (ms) => {
    let n = 1;
    let ops = 0;
    let elapsed = 0n;
    const budget = BigInt(ms) * 1_000_000n;
    const cpu0 = process.cpuUsage();
    while (elapsed < budget) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      const took = process.hrtime.bigint() - start;
      elapsed += took;
      ops += n;
      if (took < 50_000_000n) n *= 2;
    }
    const cpu = process.cpuUsage(cpu0);
    return [Number(elapsed) / ops, ((cpu.user + cpu.system) * 1000) / ops];
  };
  run(minMs); // warm-up: JIT, inline caches, heap growth
  const [ns, cpuNs] = run(minMs);
  const nsPerOp = Math.round(ns);
  const cpuNsPerOp = Math.round(cpuNs);
  console.log(JSON.stringify({ name, nsPerOp, cpuNsPerOp }));
  log(`${name}: ${nsPerOp} ns/op, ${cpuNsPerOp} CPU ns/op`);
}

// ---- Arrow: arrowCodec (apache-arrow IPC streams) ----

/**
 * The 10 000-row table of the Go benchmarks (codec/arrowcodec): Float64 x,
 * null every third row; Int32 n, null every fifth; Utf8 s, null every
 * seventh, "é" repeated i % 4 times then "row".
 */
function arrowTable(rows) {
  const x = [];
  const n = [];
  const s = [];
  for (let i = 0; i < rows; i++) {
    x.push(i % 3 === 1 ? null : i * 1.5);
    n.push(i % 5 === 2 ? null : i - 7);
    s.push(i % 7 === 3 ? null : "é".repeat(i % 4) + "row");
  }
  return new Table({
    x: vectorFromArray(x, new Float64()),
    n: vectorFromArray(n, new Int32()),
    s: vectorFromArray(s, new Utf8()),
  });
}

function arrowCases() {
  const rows = 10_000;
  const table = arrowTable(rows);
  const payload = arrowCodec.serialize(table);
  log(`arrow: ${rows} rows, ${payload.length} bytes encoded`);
  measure(`arrow/encode/${rows}rows`, () => arrowCodec.serialize(table));
  // tableFromIPC reads the columns in place (views over the payload).
  measure(`arrow/decode/${rows}rows`, () => arrowCodec.deserialize(payload));
}

// ---- MessagePack: msgpackCodec ----

/** The small object of the Go benchmarks (codec/msgpack_bench_test.go). */
const small = { id: 12345, name: "procwire", tags: ["alpha", "beta", "gamma"], ok: true, score: 1.5, nested: { x: 1, y: 2 }, note: "a small message" };

function msgpackCases() {
  const payload = msgpackCodec.serialize(small);
  log(`msgpack: small object ${payload.length} bytes`);
  measure("msgpack/small/encode", () => msgpackCodec.serialize(small));
  measure("msgpack/small/decode", () => msgpackCodec.deserialize(payload));
  const mib = Buffer.alloc(1 << 20, 7);
  const big = msgpackCodec.serialize(mib);
  measure("msgpack/1MiB/encode", () => msgpackCodec.serialize(mib));
  measure("msgpack/1MiB/decode", () => msgpackCodec.deserialize(big));
}

const families = [msgpackCases, arrowCases];
for (const run of families) run();
