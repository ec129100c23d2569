// Shared helpers for the interop suites: declare the conformance module on
// the real @procwire/core parent exactly as the contract in
// examples/conformance/README.md describes it.
import { before, after } from "node:test";
import { ModuleManager, Module } from "@procwire/core";
import { rawCodec } from "@procwire/codecs";
import { readFileSync } from "node:fs";

export const WORKER = process.env.PROCWIRE_WORKER;
export const WORKER_ARGS = JSON.parse(process.env.PROCWIRE_WORKER_ARGS || "[]");

/** A module running the worker named by PROCWIRE_WORKER, nothing declared. */
export function workerModule(name) {
  if (!WORKER) {
    throw new Error("PROCWIRE_WORKER must name the worker executable");
  }
  return new Module(name).executable(WORKER, WORKER_ARGS);
}

/** Declares every method and event of the conformance contract. */
export function conformanceModule(name = "conformance") {
  return workerModule(name)
    .method("echo")
    .method("echoRaw", { codec: rawCodec })
    .method("ack", { response: "ack" })
    .method("notify", { response: "none" })
    .method("count", { response: "stream" })
    .method("blob", { response: "stream", codec: rawCodec })
    .method("fail")
    .method("failObject")
    .method("panic")
    .method("streamFail", { response: "stream" })
    .method("sleep", { cancellable: true })
    .method("tick", { response: "stream", cancellable: true })
    .method("progress")
    .method("types")
    .method("info")
    .event("progress")
    .event("notified")
    .event("aborted");
}

/** Spawns a conformance module under a fresh manager. */
export async function spawnConformance(policy = {}, name = "conformance") {
  const mod = conformanceModule(name).spawnPolicy({ maxRetries: 0, ...policy });
  const manager = new ModuleManager();
  const errors = [];
  manager.on("error", (_name, err) => errors.push(err));
  manager.register(mod);
  await manager.spawn();
  return { manager, mod, errors };
}

/**
 * Spawns one conformance module for all the tests of a suite file (with
 * node:test's before and after hooks). The returned object gets the
 * fields of spawnConformance's result ({manager, mod, errors}) before the
 * first test runs.
 */
export function sharedConformance() {
  const shared = {};
  before(async () => {
    Object.assign(shared, await spawnConformance());
  });
  after(async () => {
    await shared.manager?.shutdown();
  });
  return shared;
}

/** Spawns mod (no restarts) under a fresh manager, runs fn(mod), shuts down. */
export async function withModule(mod, fn) {
  const manager = new ModuleManager();
  manager.register(mod.spawnPolicy({ maxRetries: 0 }));
  try {
    await manager.spawn();
    return await fn(mod);
  } finally {
    await manager.shutdown();
  }
}

export function blobRequest(count, size) {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(count, 0);
  b.writeUInt32BE(size, 4);
  return b;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Reports whether a process id is alive. A zombie (exited, not yet reaped:
 * workers orphaned by a killed parent are reparented to a PID 1 that may
 * never reap them) counts as gone.
 */
export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return true; // no /proc (macOS): kill(0) is all we have
  }
}

/** Waits until pred() is true or ms elapse; returns pred()'s last value. */
export async function waitFor(pred, ms, step = 10) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(step);
  }
  return pred();
}

/** Collects the next n emissions of an event. */
export function collectEvents(mod, name) {
  const got = [];
  const off = mod.onEvent(name, (d) => got.push(d));
  return { got, off };
}
