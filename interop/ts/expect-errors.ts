// Each line after a ts-expect-error comment must fail to compile, exactly
// there: tsc reports such a comment that has no error below it as an error
// itself (TS2578).
// interop/gen_ts_test.go compiles this file with tsc --strict against the
// module generated from the conformance worker.
import { conformanceApi, defineConformance, type ShapeInput } from "./conformance.js";

export async function mistakes(): Promise<void> {
	const api = conformanceApi(defineConformance());
	const ok: ShapeInput = {
		name: "n", count: 1, ratio: 1, big: 1, data: null, when: new Date(), note: null, attrs: null, grid: null, flag: false, id: 1,
	};

	// A misspelled method.
	// @ts-expect-error "shap" is not a method of the worker
	await api.send("shap", ok);

	// A misspelled event.
	// @ts-expect-error "progres" is not an event of the worker
	api.onEvent("progres", () => {});

	// A wrong field type: width is a number in Go.
	// @ts-expect-error count must be a number
	await api.send("shape", { ...ok, count: "120" });

	// A misspelled field.
	// @ts-expect-error "nmae" is not a field of Shape
	await api.send("shape", { ...ok, nmae: "x" });

	// A missing field: name is not omitempty.
	const { name: _, ...noName } = ok;
	// @ts-expect-error name is missing
	await api.send("shape", noName);

	// A wrong response handling: the result's fields have their types.
	const shape = await api.send("shape", ok);
	// @ts-expect-error count is a number, not a string
	const s: string = shape.count;

	// A stream treated as a promise: send does not take stream methods…
	// @ts-expect-error shapes is a stream method
	await api.send("shapes", { n: 1 });
	// …and a stream is not a promise.
	// @ts-expect-error an AsyncGenerator has no then
	api.stream("shapes", { n: 1 }).then(() => {});

	// A result method is not a stream.
	// @ts-expect-error shape is not a stream method
	api.stream("shape", ok);

	// A wrong request for a method of another type: count takes {n}.
	// @ts-expect-error n must be a number
	await api.send("progress", { n: "3" });

	// An event's data has its type.
	api.onEvent("aborted", (e) => {
		// @ts-expect-error method is a string
		const n: number = e.method;
		void n;
	});
	void s;
}
