package contract

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// TypeScriptOptions configure TypeScript.
type TypeScriptOptions struct {
	// Name is the module's name: the default name of the generated Module
	// and the stem of the generated identifiers (for "image-worker":
	// defineImageWorker, ImageWorkerApi, imageWorkerApi). Required.
	Name string
	// Source, if set, is named in the header comment (for example the
	// worker's command line).
	Source string
}

// TypeScript writes a TypeScript module for @procwire/core 1.5.0 and
// @procwire/codecs 2.0.0 that describes the contract c as the Node parent
// sees it. For a module named "worker" it exports:
//
//   - an interface (or type alias) per named Go type, as the parent
//     receives it, and a "…Input" variant as the parent sends it where the
//     two differ (bytes: Buffer received, Uint8Array | Buffer sent);
//   - defineWorker(name?), which returns the typed Module: every method
//     with its codecs (msgpack<Req, Res>(), rawCodec, rawChunksCodec,
//     arrowCodec), response type, timeout and cancellable flag, and every
//     event with its codec;
//   - WorkerModule and WorkerSchema, its types, and WorkerApi with
//     workerApi(module): the module's send, stream and onEvent without
//     @procwire/core's untyped fallback overloads, so that a misspelled
//     method or event, a wrong or missing field, or send on a stream
//     method does not compile.
//
// Go types map to TypeScript as the @procwire/codecs msgpack codec
// delivers them: integers and floats as number (exact only within
// ±2^53 for 64-bit integers), []byte as Buffer, time.Time as Date, maps
// as Record<string, V>, interfaces as unknown, omitempty fields optional
// (name?:), nil-able values (pointers, slices, maps) "| null".
//
// TypeScript fails for a codec @procwire/codecs does not provide.
func TypeScript(w io.Writer, c *Contract, opts TypeScriptOptions) error {
	if err := c.Validate(); err != nil {
		return err
	}
	stem := pascal(opts.Name)
	if stem == "" {
		return fmt.Errorf("contract: TypeScript: the module name %q has no letters or digits", opts.Name)
	}
	g := &tsGen{c: c, names: make(map[string]string), input: make(map[string]bool)}
	g.ids = idents{
		define: "define" + stem,
		module: stem + "Module",
		schema: stem + "Schema",
		api:    stem + "Api",
		apiFn:  lowerFirst(stem) + "Api",
	}
	if err := g.prepare(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	g.w = bw
	g.write(opts)
	return bw.Flush()
}

// idents are the generated identifiers besides the types'.
type idents struct{ define, module, schema, api, apiFn string }

type tsGen struct {
	c     *Contract
	w     *bufio.Writer
	ids   idents
	names map[string]string // Contract.Types key → TypeScript name
	input map[string]bool   // types whose sent form differs and is used
	order []string          // Contract.Types keys by TypeScript name
	used  map[string]bool   // the codecs' identifiers imported
}

// reserved are the names a generated type must not take: the globals and
// imports the generated code uses.
var reserved = map[string]bool{
	"Array": true, "AbortSignal": true, "AsyncGenerator": true, "Buffer": true, "Date": true,
	"Error": true, "ExtractSchema": true, "Map": true, "MethodsWithResponseType": true,
	"MethodsWithoutResponseType": true, "Module": true, "Number": true, "Object": true,
	"Promise": true, "Record": true, "SendReturn": true, "Set": true, "String": true,
	"Boolean": true, "Symbol": true, "Uint8Array": true,
}

func (g *tsGen) prepare() error {
	taken := maps(reserved)
	for _, id := range []string{g.ids.define, g.ids.module, g.ids.schema, g.ids.api, g.ids.apiFn} {
		taken[id] = true
	}
	keys := make([]string, 0, len(g.c.Types))
	for k := range g.c.Types {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		base := tsIdent(k)
		n := base
		for i := 2; taken[n] || taken[n+"Input"]; i++ {
			n = base + strconv.Itoa(i)
		}
		taken[n], taken[n+"Input"] = true, true
		g.names[k] = n
	}
	g.order = keys
	slices.SortFunc(g.order, func(a, b string) int { return strings.Compare(g.names[a], g.names[b]) })

	// The sent form of a named type needs its own declaration when it
	// holds bytes and a request uses it.
	differs := make(map[string]bool)
	for _, k := range keys {
		differs[k] = g.holdsBytes(g.c.Types[k], map[string]bool{k: true})
	}
	var visit func(t *Type)
	visit = func(t *Type) {
		if t == nil {
			return
		}
		switch t.Kind {
		case Ref:
			if differs[t.Ref] && !g.input[t.Ref] {
				g.input[t.Ref] = true
				visit(g.c.Types[t.Ref])
			}
		case Array:
			visit(t.Elem)
		case Map:
			visit(t.Key)
			visit(t.Elem)
		case Struct:
			for _, f := range t.Fields {
				visit(f.Type)
			}
		}
	}
	g.used = make(map[string]bool)
	for _, m := range g.c.Methods {
		visit(m.Request)
		for _, name := range []string{m.RequestCodec, m.ResponseCodec} {
			id, err := codecIdent(name)
			if err != nil {
				return fmt.Errorf("contract: TypeScript: method %s: %w", m.Name, err)
			}
			g.used[id] = true
		}
	}
	for _, e := range g.c.Events {
		id, err := codecIdent(e.Codec)
		if err != nil {
			return fmt.Errorf("contract: TypeScript: event %s: %w", e.Name, err)
		}
		g.used[id] = true
	}
	return nil
}

func maps(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// holdsBytes reports whether t holds bytes, directly or through the named
// types it refers to (seen: those already on the way).
func (g *tsGen) holdsBytes(t *Type, seen map[string]bool) bool {
	switch t.Kind {
	case Bytes:
		return true
	case Ref:
		if seen[t.Ref] {
			return false
		}
		seen[t.Ref] = true
		return g.holdsBytes(g.c.Types[t.Ref], seen)
	case Array:
		return g.holdsBytes(t.Elem, seen)
	case Map:
		return g.holdsBytes(t.Key, seen) || g.holdsBytes(t.Elem, seen)
	case Struct:
		for _, f := range t.Fields {
			if g.holdsBytes(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

// codecIdent returns the @procwire/codecs identifier of a codec.
func codecIdent(name string) (string, error) {
	switch name {
	case "msgpack":
		return "msgpack", nil
	case "raw":
		return "rawCodec", nil
	case "raw-chunks":
		return "rawChunksCodec", nil
	case "arrow":
		return "arrowCodec", nil
	}
	return "", fmt.Errorf("codec %q is not one of @procwire/codecs (msgpack, raw, raw-chunks, arrow)", name)
}

func (g *tsGen) p(format string, args ...any) { fmt.Fprintf(g.w, format, args...) }

func (g *tsGen) write(opts TypeScriptOptions) {
	g.p("// Code generated by procwire gen ts. DO NOT EDIT.\n")
	if opts.Source != "" {
		g.p("// Source: %s\n", oneLine(opts.Source))
	}
	g.p("//\n// The contract of the Procwire module %q (contract format %d, protocol %s", opts.Name, g.c.Format, g.c.Protocol)
	if g.c.Library != "" {
		g.p(", procwire-go %s", g.c.Library)
	}
	g.p(")\n// for @procwire/core 1.5.0 and @procwire/codecs 2.0.0. Use %s(module) to call it:\n", g.ids.apiFn)
	g.p("// it accepts only this module's methods, events and types. Numbers from Go's\n")
	g.p("// 64-bit integers are exact only within ±2^53 (Number.MAX_SAFE_INTEGER).\n\n")

	g.p("import { Module } from \"@procwire/core\";\n")
	g.p("import type { ExtractSchema, MethodsWithResponseType, MethodsWithoutResponseType, SendReturn } from \"@procwire/core\";\n")
	var codecs []string
	for _, id := range []string{"msgpack", "rawChunksCodec", "rawCodec"} {
		if g.used[id] {
			codecs = append(codecs, id)
		}
	}
	if len(codecs) > 0 {
		g.p("import { %s } from \"@procwire/codecs\";\n", strings.Join(codecs, ", "))
	}
	if g.used["arrowCodec"] {
		g.p("import { arrowCodec } from \"@procwire/codecs/arrow\";\n")
	}

	for _, k := range g.order {
		g.declare(k, false)
		if g.input[k] {
			g.declare(k, true)
		}
	}

	g.p("\n/**\n * %s returns the Module of this worker, named name, with every method\n", g.ids.define)
	g.p(" * and event typed. Set its executable, register it with a ModuleManager,\n")
	g.p(" * and call it through %s.\n */\n", g.ids.apiFn)
	g.p("export function %s(name: string = %s) {\n\treturn new Module(name)", g.ids.define, strconv.Quote(opts.Name))
	for _, m := range g.c.Methods {
		g.p("\n\t\t.method(%s, { %s, response: %s", strconv.Quote(m.Name), g.methodCodecs(m), strconv.Quote(string(m.Response)))
		if m.Timeout > 0 {
			g.p(", timeout: %d", m.Timeout)
		}
		if m.Cancellable {
			g.p(", cancellable: true")
		}
		g.p(" })")
	}
	for _, e := range g.c.Events {
		g.p("\n\t\t.event(%s, { codec: %s })", strconv.Quote(e.Name), g.codec(e.Codec, nil, e.Data))
	}
	g.p(";\n}\n")

	id := g.ids
	g.p("\n/** The typed Module that %s returns. */\nexport type %s = ReturnType<typeof %s>;\n", id.define, id.module, id.define)
	g.p("\n/** The schema of %s: each method's request, response and response type, each event's data. */\n", id.module)
	g.p("export type %s = ExtractSchema<%s>;\n", id.schema, id.module)
	g.p(`
/**
 * %[1]s is %[2]s without @procwire/core's untyped fallback overloads: send
 * takes the result, ack and none methods, stream the stream methods, onEvent
 * the events, each with its own types.
 */
export interface %[1]s {
	send<M extends MethodsWithoutResponseType<%[3]s, "stream"> & string>(
		method: M,
		data: %[3]s["methods"][M]["reqIn"],
		options?: { signal?: AbortSignal },
	): Promise<SendReturn<%[3]s["methods"][M]["resOut"], %[3]s["methods"][M]["responseType"]>>;
	stream<M extends MethodsWithResponseType<%[3]s, "stream"> & string>(
		method: M,
		data: %[3]s["methods"][M]["reqIn"],
		options?: { signal?: AbortSignal },
	): AsyncGenerator<%[3]s["methods"][M]["resOut"]>;
	onEvent<E extends keyof %[3]s["events"] & string>(
		event: E,
		handler: (data: %[3]s["events"][E]["dataOut"]) => void,
	): () => void;
}

/** %[4]s returns module itself, seen through %[1]s. */
export function %[4]s(module: %[2]s): %[1]s {
	return module;
}
`, id.api, id.module, id.schema, id.apiFn)
}

// declare writes the declaration of the named type k, as received or (in)
// as sent.
func (g *tsGen) declare(k string, in bool) {
	t := g.c.Types[k]
	name, how := g.names[k], "as the parent receives it"
	if in {
		name, how = name+"Input", "as the parent sends it"
	}
	g.p("\n/** Go type %s, %s. */\n", oneLine(k), how)
	if t.Kind != Struct || t.AsArray || len(t.Fields) == 0 {
		g.p("export type %s = %s;\n", name, g.ts(t, in))
		return
	}
	g.p("export interface %s {\n", name)
	g.fields(t, in, "\t")
	g.p("}\n")
}

func (g *tsGen) fields(t *Type, in bool, indent string) {
	for _, f := range t.Fields {
		opt := ""
		if f.Optional {
			opt = "?"
		}
		g.p("%s%s%s: %s;", indent, propName(f.Name), opt, g.ts(f.Type, in))
		if note := intNote(f.Type); note != "" {
			g.p(" // %s", note)
		}
		g.p("\n")
	}
}

// intNote describes the Go integer behind a number.
func intNote(t *Type) string {
	if t.Kind != Int {
		return ""
	}
	s := "int" + strconv.Itoa(t.Bits)
	if t.Unsigned {
		s = "u" + s
	}
	if t.Bits == 64 {
		s += ", exact within ±2^53"
	}
	return s
}

// ts returns the TypeScript type of t, as received or (in) as sent.
func (g *tsGen) ts(t *Type, in bool) string {
	var s string
	switch t.Kind {
	case Bool:
		s = "boolean"
	case Int, Float:
		s = "number"
	case String:
		s = "string"
	case Bytes:
		s = "Buffer"
		if in {
			s = "Uint8Array | Buffer"
		}
	case Time:
		s = "Date"
	case Array:
		e := g.ts(t.Elem, in)
		if strings.Contains(e, "|") {
			e = "(" + e + ")"
		}
		s = e + "[]"
	case Map:
		s = "Record<string, " + g.ts(t.Elem, in) + ">"
	case Struct:
		switch {
		case t.AsArray:
			parts := make([]string, len(t.Fields))
			for i, f := range t.Fields {
				parts[i] = g.ts(f.Type, in)
			}
			s = "[" + strings.Join(parts, ", ") + "]"
		case len(t.Fields) == 0:
			s = "Record<string, never>"
		default:
			parts := make([]string, len(t.Fields))
			for i, f := range t.Fields {
				opt := ""
				if f.Optional {
					opt = "?"
				}
				parts[i] = propName(f.Name) + opt + ": " + g.ts(f.Type, in)
			}
			s = "{ " + strings.Join(parts, "; ") + " }"
		}
	case Ref:
		s = g.names[t.Ref]
		if in && g.input[t.Ref] {
			s += "Input"
		}
	default: // Any, Unsupported
		return "unknown"
	}
	if t.Nullable {
		s += " | null"
	}
	return s
}

// methodCodecs returns the codec properties of m's method config.
func (g *tsGen) methodCodecs(m Method) string {
	if m.RequestCodec == "msgpack" && m.ResponseCodec == "msgpack" {
		return "codec: " + g.codec("msgpack", m.Request, m.Result)
	}
	if m.RequestCodec == m.ResponseCodec {
		return "codec: " + g.codec(m.RequestCodec, nil, nil)
	}
	return "requestCodec: " + g.codec(m.RequestCodec, m.Request, nil) +
		", responseCodec: " + g.codec(m.ResponseCodec, nil, m.Result)
}

// codec returns the codec expression: for msgpack, msgpack<In, Out>() with
// In the type sent (req) and Out the type received (res).
func (g *tsGen) codec(name string, req, res *Type) string {
	id, _ := codecIdent(name) // checked by prepare
	if id != "msgpack" {
		return id
	}
	in, out := "unknown", "unknown"
	if req != nil {
		in = g.ts(req, true)
	}
	if res != nil {
		out = g.ts(res, false)
	}
	return "msgpack<" + in + ", " + out + ">()"
}

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// propName returns a property name, quoted unless it is an identifier.
func propName(s string) string {
	if identRE.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

// qualifier matches the package part of a Go type name ("main.",
// "example.com/x/y.").
var qualifier = regexp.MustCompile(`[A-Za-z0-9_\-./]*\.`)

// tsIdent turns a Go type name ("main.Page[main.Item]") into a
// TypeScript identifier ("Page_Item").
func tsIdent(goName string) string {
	s := qualifier.ReplaceAllString(goName, "")
	var b strings.Builder
	under := false
	for _, r := range s {
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			if r < 0x80 {
				b.WriteRune(r)
				under = false
				continue
			}
		}
		if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "T" + out
	}
	return out
}

// pascal turns a module name ("image-worker") into an identifier stem
// ("ImageWorker").
func pascal(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if up {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			up = false
			continue
		}
		up = true
	}
	s := b.String()
	if s != "" && unicode.IsDigit(rune(s[0])) {
		s = "W" + s
	}
	return s
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// oneLine keeps a comment on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, strings.ReplaceAll(s, "*/", "* /"))
}
