// The example workers under examples/, driven by the real parent.
// Each worker's path comes from PROCWIRE_EXAMPLE_<NAME>.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Module } from "@procwire/core";
import { rawCodec } from "@procwire/codecs";
import { sleep, waitFor, withModule } from "./harness.mjs";

const exe = (name) => {
  const p = process.env[`PROCWIRE_EXAMPLE_${name.toUpperCase()}`];
  if (!p) throw new Error(`PROCWIRE_EXAMPLE_${name.toUpperCase()} not set`);
  return p;
};

test("echo: echo and shout", () =>
  withModule(new Module("echo").executable(exe("echo")).method("echo").method("shout"), async (m) => {
    assert.deepStrictEqual(await m.send("echo", [1, { a: "b" }]), [1, { a: "b" }]);
    assert.deepStrictEqual(await m.send("shout", { text: "hello" }), { text: "HELLO", length: 5 });
  }));

test("stream: lines and a file in raw chunks", () =>
  withModule(new Module("stream").executable(exe("stream"))
    .method("lines", { response: "stream" })
    .method("file", { response: "stream", codec: rawCodec }), async (m) => {
    const lines = [];
    for await (const l of m.stream("lines", { text: "a\nbb\nccc" })) lines.push(l);
    assert.deepStrictEqual(lines, [{ n: 1, text: "a" }, { n: 2, text: "bb" }, { n: 3, text: "ccc" }]);

    const dir = mkdtempSync(join(tmpdir(), "procwire-ex-"));
    const content = Buffer.alloc(300000);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
    writeFileSync(join(dir, "f.bin"), content);
    const chunks = [];
    for await (const c of m.stream("file", Buffer.from(JSON.stringify({ path: join(dir, "f.bin"), chunk: 65536 })))) chunks.push(c);
    assert.equal(chunks.length, 5);
    assert.ok(Buffer.concat(chunks).equals(content));
    await assert.rejects(async () => {
      for await (const _ of m.stream("file", Buffer.from(JSON.stringify({ path: join(dir, "missing") }))));
    }, /no such file/);
  }));

test("events: progress, done and tick", () =>
  withModule(new Module("events").executable(exe("events")).method("crunch").event("progress").event("done").event("tick"), async (m) => {
    const progress = [];
    const done = [];
    const ticks = [];
    m.onEvent("progress", (p) => progress.push(p));
    m.onEvent("done", (d) => done.push(d));
    m.onEvent("tick", (t) => ticks.push(t));
    assert.equal(await m.send("crunch", { steps: 4 }), 4);
    assert.deepStrictEqual(progress.map((p) => p.percent), [25, 50, 75, 100]);
    assert.ok(await waitFor(() => done.length === 1, 1000));
    assert.equal(done[0].steps, 4);
    assert.ok(await waitFor(() => ticks.length >= 1, 2500), "tick event within the second");
    assert.ok(ticks[0] instanceof Date);
  }));

test("cancellation: aborting search cancels its context", () =>
  withModule(new Module("cancel").executable(exe("cancellation")).method("search", { cancellable: true }).event("cancelled"), async (m) => {
    const got = [];
    m.onEvent("cancelled", (c) => got.push(c));
    const ac = new AbortController();
    const p = m.send("search", { needle: "x" }, { signal: ac.signal });
    await sleep(60);
    ac.abort();
    await assert.rejects(p, (e) => e.name === "AbortError");
    assert.ok(await waitFor(() => got.length === 1, 1000), "cancelled event");
    assert.equal(got[0].why, "aborted by the parent");
    assert.equal(got[0].needle, "x");
    assert.ok(got[0].afterSteps >= 1);
  }));
