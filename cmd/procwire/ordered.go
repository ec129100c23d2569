package main

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/procwire/procwire-go/codec"
)

// Results, chunks and events are printed from their MessagePack bytes in
// the order their maps' entries arrived — a Go struct's field order, a JS
// object's key order —, which decoding into a Go map would lose. Scalars
// (and Node's Buffer and Date extensions) are decoded by codec.MsgPack, so
// they print as before.

// object is a decoded MessagePack map: its entries in the order they
// arrived. A key that arrives again replaces the value and keeps the first
// position, as in a JS object.
type object []member

type member struct {
	key   string
	value any
}

// maxDepth bounds the nesting of a printed value.
const maxDepth = 10000

// decodeOrdered decodes one MessagePack value, maps as objects, and
// checks that nothing follows it.
func decodeOrdered(b []byte) (any, error) {
	d := orderedDecoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the first", errNotJSON, len(b)-d.pos)
	}
	return v, nil
}

type orderedDecoder struct {
	b   []byte
	pos int
}

func (d *orderedDecoder) truncated() error {
	return fmt.Errorf("%w: truncated at byte %d of %d", errNotJSON, d.pos, len(d.b))
}

func (d *orderedDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested more than %d deep", errNotJSON, maxDepth)
	}
	if d.pos >= len(d.b) {
		return nil, d.truncated()
	}
	c := d.b[d.pos]
	switch {
	case c >= 0x80 && c <= 0x8f:
		d.pos++
		return d.object(int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		d.pos++
		return d.array(int(c&0x0f), depth)
	case c == 0xdc || c == 0xdd:
		n, err := d.length(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.array(n, depth)
	case c == 0xde || c == 0xdf:
		n, err := d.length(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.object(n, depth)
	}
	end, err := d.scalarEnd()
	if err != nil {
		return nil, err
	}
	var v any
	if err := codec.MsgPack.Unmarshal(d.b[d.pos:end], &v); err != nil {
		return nil, fmt.Errorf("byte %d: %w", d.pos, err)
	}
	d.pos = end
	return v, nil
}

// length reads the type byte and a big-endian length of size bytes.
func (d *orderedDecoder) length(size int) (int, error) {
	if len(d.b)-d.pos < 1+size {
		return 0, d.truncated()
	}
	var n uint64
	for _, x := range d.b[d.pos+1 : d.pos+1+size] {
		n = n<<8 | uint64(x)
	}
	d.pos += 1 + size
	if n > uint64(len(d.b)-d.pos) { // every element takes a byte at least
		return 0, d.truncated()
	}
	return int(n), nil
}

func (d *orderedDecoder) array(n, depth int) ([]any, error) {
	if n > len(d.b)-d.pos {
		return nil, d.truncated()
	}
	a := make([]any, n)
	for i := range a {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a[i] = v
	}
	return a, nil
}

func (d *orderedDecoder) object(n, depth int) (object, error) {
	if n > (len(d.b)-d.pos)/2 {
		return nil, d.truncated()
	}
	o := make(object, 0, n)
	var index map[string]int // built for large objects only
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		key := keyString(k)
		i := -1
		if index != nil {
			if j, ok := index[key]; ok {
				i = j
			}
		} else {
			for j := range o {
				if o[j].key == key {
					i = j
					break
				}
			}
		}
		if i >= 0 {
			o[i].value = v
			continue
		}
		o = append(o, member{key, v})
		if len(o) == 32 {
			index = make(map[string]int, n)
			for j, m := range o {
				index[m.key] = j
			}
		} else if index != nil {
			index[key] = len(o) - 1
		}
	}
	return o, nil
}

// scalarEnd returns the end of the value at pos, which is not an array or
// a map.
func (d *orderedDecoder) scalarEnd() (int, error) {
	b, pos := d.b, d.pos
	c := b[pos]
	size := 0 // bytes after the type byte
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
	case c >= 0xa0 && c <= 0xbf: // fixstr
		size = int(c & 0x1f)
	case c == 0xc1:
		return 0, fmt.Errorf("%w: invalid type byte 0xc1 at byte %d", errNotJSON, pos)
	case c == 0xc4 || c == 0xd9: // bin 8, str 8
		size = d.sized(1, 0)
	case c == 0xc5 || c == 0xda: // bin 16, str 16
		size = d.sized(2, 0)
	case c == 0xc6 || c == 0xdb: // bin 32, str 32
		size = d.sized(4, 0)
	case c >= 0xc7 && c <= 0xc9: // ext 8, 16, 32: length, type, data
		size = d.sized(1<<(c-0xc7), 1)
	case c == 0xca:
		size = 4
	case c == 0xcb:
		size = 8
	case c >= 0xcc && c <= 0xcf: // uint 8..64
		size = 1 << (c - 0xcc)
	case c >= 0xd0 && c <= 0xd3: // int 8..64
		size = 1 << (c - 0xd0)
	case c >= 0xd4 && c <= 0xd8: // fixext 1..16: type, data
		size = 1 + 1<<(c-0xd4)
	}
	if size < 0 || size > len(b)-pos-1 {
		return 0, d.truncated()
	}
	return pos + 1 + size, nil
}

// sized returns the bytes after the type byte of a value whose length
// takes n bytes, followed by extra bytes and the data; -1 if b ends first.
func (d *orderedDecoder) sized(n, extra int) int {
	b := d.b[d.pos+1:]
	if len(b) < n {
		return -1
	}
	var l uint64
	switch n {
	case 1:
		l = uint64(b[0])
	case 2:
		l = uint64(binary.BigEndian.Uint16(b))
	default:
		l = uint64(binary.BigEndian.Uint32(b))
	}
	if l > uint64(len(b)) {
		return -1
	}
	return n + extra + int(l)
}

// printPayload prints a MessagePack payload as one line of JSON, its maps'
// entries in the order they arrived.
func printPayload(w io.Writer, payload []byte) error {
	v, err := decodeOrdered(payload)
	if err != nil {
		return err
	}
	return printValue(w, v)
}

// printValue prints a value (from decodeOrdered, or built from one) as one
// line of JSON.
func printValue(w io.Writer, v any) error {
	b, err := appendJSON(nil, v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
