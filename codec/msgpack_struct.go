package codec

import (
	"reflect"
	"strconv"
	"strings"
	"unsafe"
)

// Structs. The fields and the names they go by are those of the library's
// getFields (vmihailenco/msgpack/v5 types.go), so that a payload fills the
// same fields here as there: the msgpack tag's name or the field's, "-"
// skipped, unexported fields skipped unless embedded, an alias as a second
// name, embedded structs inlined (always with ",inline"; without it only
// if no field of theirs is shadowed and they decode as plain structs),
// never with ",noinline". A nil embedded pointer is allocated when one of
// its fields is decoded.

// sfield is a field as the decoder finds it: by name, at an offset, after
// following the embedded pointers on the way.
type sfield struct {
	name  string
	ptrs  []ptrStep
	off   uintptr
	p     *plan
	index int  // in structPlan.list, or -1
	canon bool // what byName gives for name
}

// ptrStep is an embedded pointer on the way to a field: at off in the
// struct reached so far, to a struct of type elem.
type ptrStep struct {
	off  uintptr
	elem reflect.Type
}

func (f *sfield) addr(p unsafe.Pointer) unsafe.Pointer {
	for _, s := range f.ptrs {
		pp := (*unsafe.Pointer)(unsafe.Add(p, s.off))
		if *pp == nil {
			*pp = reflect.New(s.elem).UnsafePointer()
		}
		p = *pp
	}
	return unsafe.Add(p, f.off)
}

type structPlan struct {
	typ    reflect.Type
	list   []*sfield // in order: a struct sent as an array fills these
	byName map[string]*sfield
}

func (b planner) structOf(t reflect.Type) decFn {
	list, byName, ok := libFields(t)
	if !ok {
		return libraryDec(t)
	}
	s := &structPlan{typ: t, byName: make(map[string]*sfield, len(byName))}
	made := make(map[*libField]*sfield)
	mk := func(lf *libField) *sfield {
		if f := made[lf]; f != nil {
			return f
		}
		ptrs, off, ok := fieldPath(t, lf.index)
		f := &sfield{name: lf.name, ptrs: ptrs, off: off, index: -1}
		if ok {
			f.p = b.plan(lf.typ)
		}
		made[lf] = f
		return f
	}
	for i, lf := range list {
		f := mk(lf)
		f.index = i
		s.list = append(s.list, f)
	}
	for name, lf := range byName {
		s.byName[name] = mk(lf)
	}
	for _, f := range s.list {
		f.canon = s.byName[f.name] == f
	}
	for _, f := range made {
		if f.p == nil {
			return libraryDec(t) // the library cannot set such a field either
		}
	}
	return s.dec
}

// fieldPath finds the field at index (a reflect index path) in t.
// ok is false when the path goes through an unexported embedded pointer,
// which the library can neither allocate nor follow.
func fieldPath(t reflect.Type, index []int) (ptrs []ptrStep, off uintptr, ok bool) {
	var via reflect.StructField
	for i, idx := range index {
		if i > 0 && t.Kind() == reflect.Pointer {
			if !via.IsExported() || t.Elem().Kind() != reflect.Struct {
				return nil, 0, false
			}
			ptrs = append(ptrs, ptrStep{off: off, elem: t.Elem()})
			off, t = 0, t.Elem()
		}
		via = t.Field(idx)
		off += via.Offset
		t = via.Type
	}
	return ptrs, off, true
}

func (s *structPlan) dec(d *decoder, p unsafe.Pointer) error {
	c, err := d.code()
	if err != nil {
		return d.want(err, "object")
	}
	n, ok, known, err := d.containerLen(c, isFixMap(c), mpMap16, 2)
	switch {
	case !known:
		// A struct sent as an array: its fields in order.
		start := d.pos - 1
		if n, _, known, err = d.containerLen(c, isFixArray(c), mpArray16, 1); !known {
			return d.wrongAt(start, "object", nil)
		}
		if err != nil {
			return d.want(err, "object")
		}
		if n == 0 { // as the library: the zero value
			reflect.NewAt(s.typ, p).Elem().SetZero()
			return nil
		}
		if n != len(s.list) {
			return d.wrongAt(start, "object, or an array of its "+strconv.Itoa(len(s.list))+" fields", nil)
		}
		for _, f := range s.list {
			if err := f.p.dec(d, f.addr(p)); err != nil {
				return d.at(err, "."+f.name)
			}
		}
		return nil
	case err != nil:
		return d.want(err, "object")
	}
	if !ok {
		reflect.NewAt(s.typ, p).Elem().SetZero()
		return nil
	}
	next := 0 // fields usually come in order: try the next one first
	for range n {
		k, err := d.key()
		if err != nil {
			return d.want(err, "object key (string)")
		}
		var f *sfield
		if next < len(s.list) && s.list[next].canon && s.list[next].name == string(k) {
			f = s.list[next]
		} else if f = s.byName[string(k)]; f == nil {
			if d.strict {
				return d.unknownField(k)
			}
			if err := d.skip(); err != nil {
				return d.at(d.want(err, "any value"), fieldSeg(k))
			}
			continue
		}
		if f.index >= 0 {
			next = f.index + 1
		}
		if err := f.p.dec(d, f.addr(p)); err != nil {
			return d.at(err, fieldSeg(k))
		}
	}
	return nil
}

// libField is a field as getFields lists it.
type libField struct {
	name  string
	index []int
	typ   reflect.Type
}

// libFields lists the fields of struct type t as the library's getFields
// does: list in order, byName by every name they go by. ok is false for
// tags the library treats specially (",intern") or panics on.
func libFields(t reflect.Type) (list []*libField, byName map[string]*libField, ok bool) {
	byName = make(map[string]*libField)
	add := func(f *libField) {
		byName[f.name] = f
		list = append(list, f)
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts := parseTag(sf.Tag.Get("msgpack"))
		if name == "-" {
			continue
		}
		if sf.PkgPath != "" && !sf.Anonymous {
			continue
		}
		if _, intern := opts["intern"]; intern {
			return nil, nil, false
		}
		f := &libField{name: name, index: []int{i}, typ: sf.Type}
		if f.name == "" {
			f.name = sf.Name
		}
		if _, noinline := opts["noinline"]; sf.Anonymous && !noinline {
			st := sf.Type
			_, inline := opts["inline"]
			if inline && st.Kind() != reflect.Struct {
				return nil, nil, false // getFields panics
			}
			for !inline && st.Kind() == reflect.Pointer {
				st = st.Elem()
			}
			if inline || plainStruct(st) {
				sub, _, ok := libFields(st)
				if !ok {
					return nil, nil, false
				}
				shadowed := false
				for _, g := range sub {
					_, shadowed = byName[g.name]
					if shadowed {
						break
					}
				}
				if inline || !shadowed {
					for _, g := range sub {
						if _, ok := byName[g.name]; ok && inline {
							continue // a shadowed field is not inlined
						}
						add(&libField{name: g.name, index: append([]int{i}, g.index...), typ: g.typ})
					}
					byName[f.name] = f
					continue
				}
			}
		}
		add(f)
		if alias, ok := opts["alias"]; ok {
			byName[alias] = f
		}
	}
	return list, byName, true
}

// plainStruct reports whether the library encodes and decodes t as a
// plain struct (its encodeStructValue and decodeStructValue), which
// getFields requires to inline it without ",inline".
func plainStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != timeType &&
		!implements(t, decoderIface) && !implements(t, encoderIface)
}

// parseTag splits a struct tag as vmihailenco/tagparser does: the name,
// and options "key" or "key:value" (a value may be quoted with ', or hold
// brackets and \-escapes).
func parseTag(s string) (string, map[string]string) {
	p := tagParser{s: s}
	p.parseKey()
	return p.name, p.opts
}

type tagParser struct {
	s       string
	i       int
	name    string
	hasName bool
	key     string
	opts    map[string]string
}

func (p *tagParser) valid() bool { return p.i < len(p.s) }

func (p *tagParser) read() byte {
	if !p.valid() {
		return 0
	}
	p.i++
	return p.s[p.i-1]
}

func (p *tagParser) skip(c byte) bool {
	if p.valid() && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *tagParser) set(key, value string) {
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if !p.hasName {
		p.hasName = true
		if key == "" {
			p.name = value
			return
		}
	}
	if p.opts == nil {
		p.opts = make(map[string]string)
	}
	if key == "" {
		p.opts[value] = ""
	} else {
		p.opts[key] = value
	}
}

func (p *tagParser) parseKey() {
	p.key = ""
	var b []byte
	for p.valid() {
		switch c := p.read(); c {
		case ',':
			p.skip(' ')
			p.set("", string(b))
			p.parseKey()
			return
		case ':':
			p.key = string(b)
			p.parseValue()
			return
		case '\'':
			p.parseQuoted()
			return
		default:
			b = append(b, c)
		}
	}
	if len(b) > 0 {
		p.set("", string(b))
	}
}

func (p *tagParser) parseValue() {
	if p.valid() && p.s[p.i] == '\'' {
		p.i++
		p.parseQuoted()
		return
	}
	var b []byte
	for p.valid() {
		switch c := p.read(); c {
		case '\\':
			b = append(b, p.read())
		case '(':
			b = append(b, c)
			for lvl := 0; p.valid(); {
				c := p.read()
				if c == '\\' {
					b = append(b, p.read())
					continue
				}
				b = append(b, c)
				if c == '(' {
					lvl++
				} else if c == ')' {
					if lvl--; lvl < 0 {
						break
					}
				}
			}
		case ',':
			p.skip(' ')
			p.set(p.key, string(b))
			p.parseKey()
			return
		default:
			b = append(b, c)
		}
	}
	p.set(p.key, string(b))
}

func (p *tagParser) parseQuoted() {
	var b []byte
	for p.valid() {
		j := strings.IndexByte(p.s[p.i:], '\'')
		if j < 0 {
			b = append(b, p.s[p.i:]...)
			p.i = len(p.s)
			break
		}
		part := p.s[p.i : p.i+j]
		p.i += j + 1
		if strings.HasSuffix(part, `\`) { // an escaped quote
			b = append(append(b, part[:len(part)-1]...), '\'')
			continue
		}
		b = append(b, part...)
		break
	}
	p.set(p.key, string(b))
	if p.skip(',') {
		p.skip(' ')
	}
	p.parseKey()
}
