package ingress

import "testing"

func TestParseRange(t *testing.T) {
	const size = 1000
	cases := []struct {
		header      string
		off, n      int64
		partial, ok bool
	}{
		{"", 0, size, false, true},
		{"bytes=0-99", 0, 100, true, true},
		{"bytes=100-", 100, 900, true, true},
		{"bytes=-10", 990, 10, true, true},
		{"bytes=-5000", 0, size, true, true},
		{"bytes=900-5000", 900, 100, true, true},
		{"bytes=999-999", 999, 1, true, true},
		{"bytes=1000-", 0, 0, false, false},
		{"bytes=5000-6000", 0, 0, false, false},
		{"bytes=-0", 0, 0, false, false},
		{"bytes=0-1,5-6", 0, size, false, true},               // several ranges: ignored
		{"bytes=5-1", 0, size, false, true},                   // invalid: ignored
		{"bytes=+5-", 0, size, false, true},                   // not digits: ignored
		{"items=0-1", 0, size, false, true},                   // another unit: ignored
		{"bytes=abc", 0, size, false, true},                   // no dash: ignored
		{" bytes=10-19 ", 10, 10, true, true},                 // spaces around
		{"bytes=-", 0, size, false, true},                     // neither end
		{"bytes=18446744073709551616-", 0, size, false, true}, // overflows int64: ignored
	}
	for _, tc := range cases {
		off, n, partial, ok := parseRange(tc.header, size)
		if off != tc.off || n != tc.n || partial != tc.partial || ok != tc.ok {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v, %v; want %d, %d, %v, %v",
				tc.header, size, off, n, partial, ok, tc.off, tc.n, tc.partial, tc.ok)
		}
	}
}
