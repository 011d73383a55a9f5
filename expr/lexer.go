package expr

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tAttr           // [name]
	tParam          // %A.B%
	tVar            // $name
	tString         // "text"
	tNum            // 123 or &HFF
	tIdent          // Name
	tLParen         // (
	tRParen         // )
	tComma          // ,
	tOp             // operator, text in tok.text
)

// pos is a 1-based line and column (in characters).
type pos struct{ line, col int }

func (p pos) String() string { return fmt.Sprintf("%d:%d", p.line, p.col) }

type token struct {
	kind tokKind
	text string // name, string contents, operator
	num  int64
	pos  pos
}

// SyntaxError is a parse error with its position in the source.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

func errAt(p pos, format string, args ...any) *SyntaxError {
	return &SyntaxError{Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

type lexer struct {
	src  string
	i    int
	line int
	col  int
}

func (l *lexer) here() pos { return pos{l.line, l.col} }

// next advances over one rune and returns it.
func (l *lexer) next() rune {
	r, n := utf8.DecodeRuneInString(l.src[l.i:])
	l.i += n
	if r == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) peek() rune {
	if l.i >= len(l.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.i:])
	return r
}

func (l *lexer) peekAt(off int) byte {
	if l.i+off >= len(l.src) {
		return 0
	}
	return l.src[l.i+off]
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// lex splits src into tokens.
func lex(src string) ([]token, error) {
	l := &lexer{src: src, line: 1, col: 1}
	var toks []token
	for {
		for l.i < len(l.src) && unicode.IsSpace(l.peek()) {
			l.next()
		}
		p := l.here()
		if l.i >= len(l.src) {
			toks = append(toks, token{kind: tEOF, pos: p})
			return toks, nil
		}
		r := l.peek()
		switch {
		case r == '[':
			l.next()
			start := l.i
			for l.i < len(l.src) && l.peek() != ']' {
				l.next()
			}
			if l.i >= len(l.src) {
				return nil, errAt(p, "unterminated attribute name: expected ']'")
			}
			name := strings.TrimSpace(l.src[start:l.i])
			l.next()
			if name == "" {
				return nil, errAt(p, "empty attribute name")
			}
			toks = append(toks, token{kind: tAttr, text: name, pos: p})
		case r == '%':
			l.next()
			start := l.i
			for l.i < len(l.src) && l.peek() != '%' {
				c := l.next()
				if c == '\n' {
					break
				}
			}
			if l.i >= len(l.src) || l.peek() != '%' {
				return nil, errAt(p, "unterminated parameter: expected '%%'")
			}
			name := l.src[start:l.i]
			l.next()
			if name == "" {
				return nil, errAt(p, "empty parameter name")
			}
			toks = append(toks, token{kind: tParam, text: name, pos: p})
		case r == '$':
			l.next()
			start := l.i
			for l.i < len(l.src) && isIdentPart(l.peek()) {
				l.next()
			}
			if start == l.i {
				return nil, errAt(p, "expected a variable name after '$'")
			}
			toks = append(toks, token{kind: tVar, text: l.src[start:l.i], pos: p})
		case r == '"':
			s, err := l.lexString(p)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, text: s, pos: p})
		case r >= '0' && r <= '9':
			start := l.i
			for l.i < len(l.src) && l.peek() >= '0' && l.peek() <= '9' {
				l.next()
			}
			n, ok := parseDec(l.src[start:l.i])
			if !ok {
				return nil, errAt(p, "number %s is out of range", l.src[start:l.i])
			}
			if l.i < len(l.src) && isIdentPart(l.peek()) {
				return nil, errAt(l.here(), "unexpected character %q after number", l.peek())
			}
			toks = append(toks, token{kind: tNum, num: n, pos: p})
		case r == '&' && (l.peekAt(1) == 'H' || l.peekAt(1) == 'h') && isHex(l.peekAt(2)):
			l.next()
			l.next()
			start := l.i
			for l.i < len(l.src) && isHex(l.src[l.i]) {
				l.next()
			}
			digits := l.src[start:l.i]
			if len(digits) > 16 {
				return nil, errAt(p, "hex number &H%s is out of range", digits)
			}
			var n uint64
			for i := 0; i < len(digits); i++ {
				n = n<<4 | uint64(hexVal(digits[i]))
			}
			toks = append(toks, token{kind: tNum, num: int64(n), pos: p})
		case isIdentStart(r):
			start := l.i
			for l.i < len(l.src) && isIdentPart(l.peek()) {
				l.next()
			}
			toks = append(toks, token{kind: tIdent, text: l.src[start:l.i], pos: p})
		case r == '(':
			l.next()
			toks = append(toks, token{kind: tLParen, pos: p})
		case r == ')':
			l.next()
			toks = append(toks, token{kind: tRParen, pos: p})
		case r == ',':
			l.next()
			toks = append(toks, token{kind: tComma, pos: p})
		default:
			op, ok := l.lexOp()
			if !ok {
				return nil, errAt(p, "unexpected character %q", r)
			}
			toks = append(toks, token{kind: tOp, text: op, pos: p})
		}
	}
}

var ops = []string{"&&", "||", "<=", ">=", "<>", "<", ">", "=", "+", "-", "*", "&"}

func (l *lexer) lexOp() (string, bool) {
	for _, op := range ops {
		if strings.HasPrefix(l.src[l.i:], op) {
			for range op {
				l.next()
			}
			return op, true
		}
	}
	return "", false
}

// lexString reads a double-quoted string. Escapes: \" \\ \n \r \t; any
// other backslash is kept as written.
func (l *lexer) lexString(p pos) (string, error) {
	l.next() // opening quote
	var b strings.Builder
	for {
		if l.i >= len(l.src) {
			return "", errAt(p, "unterminated string literal: expected '\"'")
		}
		r := l.next()
		switch r {
		case '"':
			return b.String(), nil
		case '\\':
			if l.i >= len(l.src) {
				return "", errAt(p, "unterminated string literal: expected '\"'")
			}
			switch c := l.peek(); c {
			case '"', '\\':
				b.WriteRune(l.next())
			case 'n':
				l.next()
				b.WriteByte('\n')
			case 'r':
				l.next()
				b.WriteByte('\r')
			case 't':
				l.next()
				b.WriteByte('\t')
			default:
				b.WriteByte('\\')
			}
		default:
			b.WriteRune(r)
		}
	}
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func parseDec(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		d := int64(s[i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
