// The Node side of a Go worker, typed by `procwire gen ts`: the README's
// example. interop/gen_ts_test.go compiles it with tsc --strict against the
// module generated from the conformance worker (conformance.ts).
//
//   procwire gen ts -o conformance.ts -- ./conformance
import { ModuleManager, ProcwireError } from "@procwire/core";
import { conformanceApi, defineConformance } from "./conformance.js";

export async function main(workerPath: string): Promise<void> {
	// The typed Module: every method with its codecs, response type and
	// cancellable flag, every event, as the Go worker registered them.
	const worker = defineConformance().executable(workerPath, []);
	const manager = new ModuleManager();
	manager.register(worker);
	await manager.spawn();
	// Call it through the typed face: no untyped fallback, so a misspelled
	// method or field does not compile.
	const api = conformanceApi(worker);
	try {
		// A result: the request is the Go struct Shape as Node sends it
		// (bytes as any Uint8Array), the response as Node receives it
		// (bytes as a Buffer, time.Time as a Date, omitempty fields optional).
		const shape = await api.send("shape", {
			name: "thumbnail",
			count: 3,
			ratio: 0.5,
			big: 2 ** 40,
			data: new Uint8Array([1, 2, 3]),
			when: new Date(),
			note: null,
			attrs: { w: 120 },
			grid: [[1, 2], [3]],
			flag: true,
			id: 7,
		});
		console.log(shape.name, shape.data?.length, shape.when.toISOString(), shape.tags ?? []);

		// An event: its data has the Go event's type (progress: map[string]int).
		const off = api.onEvent("progress", (e) => console.log("progress", e?.i));
		await api.send("progress", { n: 2 });

		// A stream: chunks arrive as they are sent; stream() is the only way
		// to call a stream method (send("shapes", …) does not compile).
		for await (const item of api.stream("shapes", { n: 3 })) {
			console.log(item.i, item.even, item.score ?? "no score");
		}
		off();

		// An error with a code: the worker returned a *procwire.Error.
		try {
			await api.send("failObject", { why: "demo" });
		} catch (err) {
			if (err instanceof ProcwireError) {
				const data = err.data as { code?: string } | undefined;
				console.log("failed:", err.message, data?.code);
			}
		}

		// An abort: sleep is cancellable (MethodOptions{Cancellable: true} in
		// Go, so the generated definition declares cancellable: true and the
		// parent sends the abort; the handler's context is cancelled).
		const ac = new AbortController();
		setTimeout(() => ac.abort(), 50);
		try {
			await api.send("sleep", 10_000, { signal: ac.signal });
		} catch (err) {
			console.log("aborted:", (err as Error).name); // AbortError
		}
	} finally {
		await manager.shutdown();
	}
}
