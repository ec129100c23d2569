// A run-time check of a value against a type of a worker's contract (the
// JSON that a procwire-go worker prints with PROCWIRE_DESCRIBE=1, see
// package contract): does what Node received match what the generated
// TypeScript declares? It checks the form the parent receives: bytes are
// Buffers, times Dates, integers integral numbers within their Go type's
// range, structs objects with exactly their fields (optional ones may be
// missing), nullable values possibly null.

export interface ContractType {
	kind: string;
	ref?: string;
	goType?: string;
	bits?: number;
	unsigned?: boolean;
	nullable?: boolean;
	elem?: ContractType;
	key?: ContractType;
	len?: number;
	fields?: ContractField[];
	asArray?: boolean;
}

export interface ContractField {
	name: string;
	goName: string;
	type: ContractType;
	optional?: boolean;
}

export interface Contract {
	format: number;
	methods: Record<string, { id: number; response: string; requestCodec: string; responseCodec: string; request?: ContractType; result?: ContractType }>;
	events: Record<string, { id: number; codec: string; data?: ContractType }>;
	types: Record<string, ContractType>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof Uint8Array);
}

function intInRange(t: ContractType, v: number): boolean {
	const bits = t.bits ?? 64;
	if (bits >= 53) return t.unsigned ? v >= 0 : true; // beyond 2^53 a number is not exact anyway
	const lo = t.unsigned ? 0 : -(2 ** (bits - 1));
	const hi = t.unsigned ? 2 ** bits - 1 : 2 ** (bits - 1) - 1;
	return v >= lo && v <= hi;
}

/** check returns the places where v does not match t, empty if it does. */
export function check(c: Contract, t: ContractType | undefined, v: unknown, path = "$"): string[] {
	if (t === undefined) return []; // untyped: anything
	if (v === null && (t.nullable || t.kind === "any" || t.kind === "unsupported")) return [];
	const bad = (what: string) => [`${path}: want ${what}, got ${describe(v)}`];
	switch (t.kind) {
		case "bool":
			return typeof v === "boolean" ? [] : bad("boolean");
		case "int":
			return typeof v === "number" && Number.isInteger(v) && intInRange(t, v) ? [] : bad(`${t.unsigned ? "u" : ""}int${t.bits}`);
		case "float":
			return typeof v === "number" ? [] : bad("number");
		case "string":
			return typeof v === "string" ? [] : bad("string");
		case "bytes":
			return Buffer.isBuffer(v) ? [] : bad("Buffer");
		case "time":
			return v instanceof Date && !Number.isNaN(v.getTime()) ? [] : bad("Date");
		case "any":
		case "unsupported":
			return [];
		case "array": {
			if (!Array.isArray(v)) return bad("array");
			if (t.len && v.length !== t.len) return bad(`array of ${t.len}`);
			return v.flatMap((e, i) => check(c, t.elem, e, `${path}[${i}]`));
		}
		case "map": {
			if (!isPlainObject(v)) return bad("object (map)");
			return Object.entries(v).flatMap(([k, e]) => check(c, t.elem, e, `${path}[${JSON.stringify(k)}]`));
		}
		case "struct": {
			const fields = t.fields ?? [];
			if (t.asArray) {
				if (!Array.isArray(v) || v.length !== fields.length) return bad(`array of ${fields.length} (struct as array)`);
				return fields.flatMap((f, i) => check(c, f.type, v[i], `${path}[${i}]`));
			}
			if (!isPlainObject(v)) return bad("object (struct)");
			const out: string[] = [];
			for (const f of fields) {
				if (!(f.name in v)) {
					if (!f.optional) out.push(`${path}.${f.name}: missing (Go field ${f.goName})`);
					continue;
				}
				out.push(...check(c, f.type, v[f.name], `${path}.${f.name}`));
			}
			for (const k of Object.keys(v)) {
				if (!fields.some((f) => f.name === k)) out.push(`${path}.${k}: not a field of the contract`);
			}
			return out;
		}
		case "ref": {
			const named = c.types[t.ref ?? ""];
			if (named === undefined) return [`${path}: unknown type ${t.ref}`];
			return check(c, named, v, path);
		}
	}
	return [`${path}: unknown kind ${t.kind}`];
}

function describe(v: unknown): string {
	if (v === null) return "null";
	if (Buffer.isBuffer(v)) return "Buffer";
	if (v instanceof Date) return "Date";
	if (Array.isArray(v)) return "array";
	return `${typeof v} ${JSON.stringify(v)}`.slice(0, 80);
}
