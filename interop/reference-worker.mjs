// The conformance contract implemented with the official Node worker
// (@procwire/client 1.3.1): the same methods and events as the Go worker in
// examples/conformance, so that the Go parent (parent/ tests) and the CLI
// can be checked against a worker that is not ours.
//
//   node interop/reference-worker.mjs
//
// Differences forced by @procwire/client are noted beside each method.
import { Client } from "@procwire/client";
import { rawCodec } from "@procwire/codecs";

const raw = { codec: rawCodec };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const client = new Client()
  .event("progress")
  .event("notified")
  .event("aborted")
  .handle("echo", async (data, ctx) => ctx.respond(data))
  .handle("echoRaw", async (data, ctx) => ctx.respond(data), raw)
  .handle("ack", async (_data, ctx) => ctx.ack({ ok: true }), { response: "ack" })
  .handle("notify", async (data) => client.emitEvent("notified", data), { response: "none" })
  .handle("count", async (data, ctx) => {
    for (let i = 0; i < data.n; i++) await ctx.chunk(i);
    await ctx.end();
  }, { response: "stream" })
  .handle("blob", async (data, ctx) => {
    if (data.length !== 8) {
      await ctx.error(`blob: request must be 8 bytes (count, size), got ${data.length}`);
      return;
    }
    const count = data.readUInt32BE(0);
    const size = data.readUInt32BE(4);
    for (let i = 0; i < count; i++) await ctx.chunk(Buffer.alloc(size, i & 0xff));
    await ctx.end();
  }, { response: "stream", ...raw })
  .handle("fail", async (data, ctx) => ctx.error(`fail: ${data}`))
  // ctx.error sends err.message for an Error and the value itself otherwise:
  // a plain object goes out as the structured error map.
  .handle("failObject", async (data, ctx) =>
    ctx.error({ message: "structured failure", code: "E_CONFORMANCE", input: data }))
  .handle("panic", async () => {
    throw new Error("conformance panic");
  })
  .handle("streamFail", async (_data, ctx) => {
    await ctx.chunk(0);
    await ctx.chunk(1);
    await ctx.error("stream failed");
  }, { response: "stream" })
  .handle("sleep", async (ms, ctx) => {
    // The timer is cleared on abort so that it does not hold the process
    // open after $shutdown.
    const done = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve("slept"), ms);
      ctx.onAbort(() => {
        clearTimeout(timer);
        resolve("aborted");
      });
    });
    if (done === "aborted") {
      await client.emitEvent("aborted", { method: "sleep" });
      return;
    }
    await ctx.respond({ slept: ms });
  }, { cancellable: true })
  .handle("tick", async (_data, ctx) => {
    let aborted = false;
    ctx.onAbort(() => {
      aborted = true;
    });
    for (let i = 0; !aborted; i++) {
      await ctx.chunk(i);
      await sleep(10);
    }
    await client.emitEvent("aborted", { method: "tick" });
  }, { response: "stream", cancellable: true })
  .handle("progress", async (data, ctx) => {
    for (let i = 0; i < data.n; i++) await client.emitEvent("progress", { i });
    await ctx.respond({ emitted: data.n });
  })
  .handle("types", async (_data, ctx) =>
    ctx.respond({
      int: 1,
      neg: -1,
      big: 2 ** 40,
      float: 1.5,
      str: "héllo",
      bin: Buffer.from([1, 2, 3]),
      date: new Date("2023-11-14T22:13:20Z"),
      nil: null,
      arr: [1, "a", true],
      map: { k: "v" },
    }))
  .handle("info", async (_data, ctx) => ctx.respond({ pid: process.pid }))
  // Synchronous on purpose: the event loop is busy for the whole burn, as
  // with real CPU-bound work in a single-threaded worker.
  .handle("burn", async (data, ctx) => {
    burn(data.ms);
    await ctx.respond({ ms: data.ms });
  });

// burn keeps the CPU busy for about ms milliseconds of CPU time: a fixed
// amount of work (xorshift rounds, their speed measured on first use), not
// a wall-clock deadline, so that a worker sharing its CPU takes longer.
let spinsPerMs = 0;
let spinSink = 0;
function spin(n) {
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}
function burn(ms) {
  if (spinsPerMs === 0) {
    // The fastest of 20 runs of 64 Ki rounds: the least disturbed one,
    // and past the JIT's warm-up.
    const rounds = 1 << 16;
    let best = Infinity;
    for (let i = 0; i < 20; i++) {
      const start = process.hrtime.bigint();
      spinSink ^= spin(rounds);
      best = Math.min(best, Math.max(Number(process.hrtime.bigint() - start), 1000));
    }
    spinsPerMs = (rounds * 1e6) / best;
  }
  if (ms > 0) spinSink ^= spin(Math.round(ms * spinsPerMs));
}

await client.start();
