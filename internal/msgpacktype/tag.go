package msgpacktype

import "strings"

// ParseTag splits a struct tag as vmihailenco/tagparser does: the name,
// and options "key" or "key:value" (a value may be quoted with ', or hold
// brackets and \-escapes).
func ParseTag(s string) (string, map[string]string) {
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
