// The conformance suite: the real @procwire/core 1.5.0 parent drives the
// worker named by PROCWIRE_WORKER through every behaviour of the contract.
// Run through `go test ./interop/` (which builds the Go conformance worker),
// or directly: PROCWIRE_WORKER=path node --test conformance.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import {
  sharedConformance, spawnConformance, workerModule, blobRequest, sleep, alive, waitFor, collectEvents,
} from "./harness.mjs";
import { ModuleManager } from "@procwire/core";

const shared = sharedConformance();

test("echo returns msgpack values unchanged", async () => {
  const values = [
    null, true, false, 0, 1, -1, 127, 128, -33, 255, 65535, 2 ** 31, 2 ** 40, -(2 ** 40),
    Number.MAX_SAFE_INTEGER, 1.5, 0.1, -0.25, "", "héllo wörld ✓", "x".repeat(70000),
    [], [1, "a", true, null], {}, { a: 1, b: { c: [1, 2, { d: "e" }] } },
  ];
  for (const v of values) {
    assert.deepStrictEqual(await shared.mod.send("echo", v), v, `echo ${JSON.stringify(v)?.slice(0, 40)}`);
  }
});

test("echo keeps Buffer and Date classes", async () => {
  const buf = await shared.mod.send("echo", Buffer.from("hi"));
  assert.ok(Buffer.isBuffer(buf), "a Buffer comes back as a Buffer");
  assert.equal(buf.toString(), "hi");
  const d = new Date(1700000000123);
  const back = await shared.mod.send("echo", { d });
  assert.ok(back.d instanceof Date, "a Date comes back as a Date");
  assert.equal(back.d.getTime(), d.getTime());
});

test("echoRaw returns the same bytes", async () => {
  for (const size of [0, 1, 11, 65536, 1 << 20]) {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * 7) & 0xff;
    const out = await shared.mod.send("echoRaw", b);
    assert.ok(Buffer.isBuffer(out));
    assert.ok(out.equals(b), `echoRaw of ${size} bytes`);
  }
});

test("ack acknowledges with {ok: true}", async () => {
  assert.deepStrictEqual(await shared.mod.send("ack", { any: "thing" }), { ok: true });
});

test("notify gets no response and emits notified with the request", async () => {
  const { got, off } = collectEvents(shared.mod, "notified");
  const r = await shared.mod.send("notify", { hello: "world" });
  assert.equal(r, undefined);
  assert.ok(await waitFor(() => got.length === 1, 2000), "notified event arrives");
  assert.deepStrictEqual(got[0], { hello: "world" });
  off();
});

test("count streams 0..n-1 then ends", async () => {
  for (const n of [0, 1, 1000]) {
    const out = [];
    for await (const x of shared.mod.stream("count", { n })) out.push(x);
    assert.deepStrictEqual(out, Array.from({ length: n }, (_, i) => i));
  }
});

test("blob streams count chunks of size bytes filled with the chunk index", async () => {
  let i = 0;
  for await (const chunk of shared.mod.stream("blob", blobRequest(300, 4096))) {
    assert.equal(chunk.length, 4096);
    assert.ok(chunk.every((b) => b === (i & 0xff)), `chunk ${i} content`);
    i++;
  }
  assert.equal(i, 300);
});

test("a slow stream consumer pauses the parent and loses nothing", async () => {
  let i = 0;
  for await (const chunk of shared.mod.stream("blob", blobRequest(2000, 32768))) {
    if (i === 0) await sleep(500); // the parent pauses the socket above 256 queued chunks
    assert.equal(chunk.length, 32768);
    assert.equal(chunk[0], i & 0xff);
    assert.equal(chunk[32767], i & 0xff);
    i++;
  }
  assert.equal(i, 2000);
});

test("fail rejects with the message", async () => {
  await assert.rejects(shared.mod.send("fail", "boom"), (e) => {
    assert.equal(e.message, "fail: boom");
    assert.equal(e.data, "fail: boom");
    return true;
  });
});

test("failObject rejects with a structured error", async () => {
  await assert.rejects(shared.mod.send("failObject", { x: [1, 2] }), (e) => {
    assert.equal(e.message, "structured failure");
    assert.equal(e.data.code, "E_CONFORMANCE");
    assert.deepStrictEqual(e.data.input, { x: [1, 2] });
    return true;
  });
});

test("a panicking handler becomes an error and the worker keeps serving", async () => {
  await assert.rejects(shared.mod.send("panic", null), /conformance panic/);
  assert.equal(await shared.mod.send("echo", "still here"), "still here");
});

test("streamFail delivers chunks 0 and 1, then the error", async () => {
  const out = [];
  await assert.rejects(async () => {
    for await (const x of shared.mod.stream("streamFail", null)) out.push(x);
  }, (e) => e.message === "stream failed");
  assert.deepStrictEqual(out, [0, 1]);
});

test("sleep responds after the delay", async () => {
  const t0 = Date.now();
  assert.deepStrictEqual(await shared.mod.send("sleep", 30), { slept: 30 });
  assert.ok(Date.now() - t0 >= 29);
});

test("aborting sleep emits aborted and sends no response", async () => {
  const { got, off } = collectEvents(shared.mod, "aborted");
  const ac = new AbortController();
  const p = shared.mod.send("sleep", 10000, { signal: ac.signal });
  await sleep(50);
  ac.abort();
  await assert.rejects(p, (e) => e.name === "AbortError");
  assert.ok(await waitFor(() => got.length === 1, 2000), "aborted event arrives");
  assert.deepStrictEqual(got[0], { method: "sleep" });
  off();
});

test("aborting tick stops the stream and emits aborted", async () => {
  const { got, off } = collectEvents(shared.mod, "aborted");
  const ac = new AbortController();
  const seen = [];
  await assert.rejects(async () => {
    for await (const x of shared.mod.stream("tick", null, { signal: ac.signal })) {
      seen.push(x);
      if (seen.length === 3) ac.abort();
    }
  }, (e) => e.name === "AbortError");
  assert.deepStrictEqual(seen, [0, 1, 2]);
  assert.ok(await waitFor(() => got.length === 1, 2000), "aborted event arrives");
  assert.deepStrictEqual(got[0], { method: "tick" });
  off();
});

test("progress emits n events in order before the response", async () => {
  const { got, off } = collectEvents(shared.mod, "progress");
  const r = await shared.mod.send("progress", { n: 50 });
  assert.deepStrictEqual(r, { emitted: 50 });
  assert.deepStrictEqual(got, Array.from({ length: 50 }, (_, i) => ({ i })));
  off();
});

test("types arrive as the JS values and classes Node expects", async () => {
  const t = await shared.mod.send("types", null);
  assert.equal(t.int, 1);
  assert.equal(t.neg, -1);
  assert.equal(t.big, 1099511627776);
  assert.equal(t.float, 1.5);
  assert.equal(t.str, "héllo");
  assert.ok(Buffer.isBuffer(t.bin), "bin is a Buffer");
  assert.deepStrictEqual([...t.bin], [1, 2, 3]);
  assert.ok(t.date instanceof Date, "date is a Date");
  assert.equal(t.date.toISOString(), "2023-11-14T22:13:20.000Z");
  assert.equal(t.nil, null);
  assert.deepStrictEqual(t.arr, [1, "a", true]);
  assert.deepStrictEqual(t.map, { k: "v" });
});

test("info reports the worker's pid", async () => {
  const { pid } = await shared.mod.send("info", null);
  assert.equal(pid, shared.mod.process.pid);
});

test("200 concurrent echoes are all answered correctly", async () => {
  const reqs = Array.from({ length: 200 }, (_, i) => ({ i, s: "v" + i }));
  const res = await Promise.all(reqs.map((r) => shared.mod.send("echo", r)));
  assert.deepStrictEqual(res, reqs);
});

test("mixed concurrent work: streams, sleeps and echoes interleave intact", async () => {
  const jobs = [];
  for (let k = 0; k < 20; k++) {
    jobs.push((async () => {
      const out = [];
      for await (const x of shared.mod.stream("count", { n: 200 })) out.push(x);
      assert.equal(out.length, 200);
      assert.equal(out[199], 199);
    })());
    jobs.push(shared.mod.send("sleep", 5).then((r) => assert.deepStrictEqual(r, { slept: 5 })));
    jobs.push(shared.mod.send("echoRaw", Buffer.alloc(100000, k)).then((b) => assert.equal(b[99999], k)));
  }
  await Promise.all(jobs);
});

test("the socket file is removed once the parent is connected", async () => {
  const { readdirSync, statSync } = await import("node:fs");
  const { join } = await import("node:path");
  const t0 = Date.now() - 1000;
  const { manager, mod } = await spawnConformance({}, "sockcheck");
  try {
    // The pipe path is not exposed by the parent: look for this worker's
    // socket (its pid, created since the spawn: sockets of SIGKILLed
    // workers with a reused pid may lie around).
    const dirs = [process.env.XDG_RUNTIME_DIR, process.env.TMPDIR, "/tmp"].filter(Boolean);
    const pid = mod.process.pid;
    const leftovers = () => dirs.flatMap((d) => {
      try {
        return readdirSync(d)
          .filter((f) => f.startsWith(`procwire-${pid}-`))
          .filter((f) => { try { return statSync(join(d, f)).mtimeMs >= t0; } catch { return false; } });
      } catch { return []; }
    });
    // The kernel completes the connection before the worker's accept()
    // returns: allow the worker a moment to adopt it and unlink the path.
    assert.ok(await waitFor(() => leftovers().length === 0, 500), `socket still there: ${leftovers()}`);
  } finally {
    await manager.shutdown();
  }
});

test("heartbeat {20ms, 200ms} survives idle time and a 64 MiB transfer", async () => {
  const { manager, mod, errors } = await spawnConformance({ heartbeat: { intervalMs: 20, timeoutMs: 200 } }, "hb");
  const pid = mod.process.pid;
  await sleep(1000);
  const size = 64 << 20;
  const big = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) big[i] = (i >> 12) & 0xff;
  const out = await mod.send("echoRaw", big);
  assert.equal(out.length, size);
  assert.ok(out.equals(big), "64 MiB echoed intact");
  let n = 0;
  for await (const c of mod.stream("blob", blobRequest(64, 1 << 20))) {
    assert.equal(c[0], n & 0xff);
    n++;
  }
  assert.equal(n, 64);
  await sleep(300);
  assert.deepStrictEqual(errors.map((e) => e.message), []);
  assert.equal(mod.state, "ready");
  assert.equal(mod.process.pid, pid);
  await manager.shutdown();
});

test("auth: true connects with the token and serves", async () => {
  const { manager, mod } = await spawnConformance({ auth: true }, "auth");
  assert.equal(await mod.send("echo", "authenticated"), "authenticated");
  assert.deepStrictEqual(await mod.send("ack", null), { ok: true });
  await manager.shutdown();
});

test("manager.shutdown() returns in < 500 ms and the worker is gone", async () => {
  const { manager, mod } = await spawnConformance({}, "shutdown");
  const pid = mod.process.pid;
  // Leave handlers in flight: shutdown must not wait for them.
  const pending = mod.send("sleep", 60000).catch(() => {});
  const ticking = (async () => { try { for await (const _ of mod.stream("tick", null)); } catch {} })();
  await sleep(30);
  const t0 = Date.now();
  await manager.shutdown();
  const took = Date.now() - t0;
  assert.ok(took < 500, `shutdown took ${took} ms`);
  assert.ok(await waitFor(() => !alive(pid), 500), "worker process exited");
  await pending;
  await ticking;
});

test("schema mismatches are rejected by the parent with a clear error", async () => {
  const mod = workerModule("mismatch")
    .method("echo", { response: "stream" }).spawnPolicy({ maxRetries: 0 });
  const manager = new ModuleManager();
  manager.on("error", () => {});
  manager.register(mod);
  await assert.rejects(manager.spawn(), /response type mismatch/);
  const missing = workerModule("missing")
    .method("nope").spawnPolicy({ maxRetries: 0 });
  manager.register(missing);
  await assert.rejects(manager.spawn("missing"), /did not register expected method "nope"/);
});

for (const busy of [false, true]) {
  test(`killing the parent makes the worker exit${busy ? " (mid-request and mid-stream)" : ""}`, async () => {
    const node = process.execPath;
    const args = [new URL("./parent-hold.mjs", import.meta.url).pathname];
    if (busy) args.push("busy");
    const parent = spawn(node, args, { stdio: ["ignore", "pipe", "inherit"], env: process.env });
    const rl = createInterface({ input: parent.stdout });
    const line = await new Promise((resolve, reject) => {
      rl.once("line", resolve);
      parent.once("exit", (c) => reject(new Error(`parent exited early (${c})`)));
    });
    const { pid } = JSON.parse(line);
    assert.ok(alive(pid), "worker is running");
    parent.kill("SIGKILL");
    assert.ok(await waitFor(() => !alive(pid), 1000), "worker exited within 1 s of the parent's death");
  });
}
