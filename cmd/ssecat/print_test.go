package main

import "testing"

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, tabs\tkept", "plain text, tabs\tkept"},
		{"é ✓ \uFFFD", "é ✓ \uFFFD"}, // a replacement character that was sent as one is text
		{"red \x1b[31m bell \x07 del \x7f", `red \x1b[31m bell \x07 del \x7f`},
		{"line\r\nbreak", `line\x0d\x0abreak`},
		{"C1 \u009b31m", `C1 \x9b31m`},
		{"lone \x9b31m byte", `lone \x9b31m byte`},
		{"cut \xe2\x9c", `cut \xe2\x9c`},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in); got != tt.want {
			t.Errorf("sanitize(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
