package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// Alpha-5 extends the 5-column TLE catalog number past 99999: the first column becomes a letter
// worth 10 to 33 (A–Z without I and O), so "A0001" is 100001 and "Z9999" is 339999.
const (
	alpha5Min     = 100000
	alpha5Max     = 339999
	alpha5Letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
)

// ParseNORAD reads a NORAD catalog number given as decimal digits (up to 9) or in Alpha-5 form.
func ParseNORAD(s string) (int, error) {
	s = strings.TrimSpace(s)
	if len(s) == 5 && s[0] >= 'A' && s[0] <= 'Z' {
		i := strings.IndexByte(alpha5Letters, s[0])
		rest, err := strconv.Atoi(s[1:])
		if i < 0 || err != nil || strings.ContainsAny(s[1:], "+-") {
			return 0, fmt.Errorf("%q is not an Alpha-5 catalog number", s)
		}
		return (i+10)*10000 + rest, nil
	}
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a NORAD catalog number (1 to 9 digits, or Alpha-5 such as A0001)", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a NORAD catalog number (must be at least 1)", s)
	}
	return n, nil
}

// FormatNORAD writes a catalog number as a TLE would: five digits, Alpha-5 from 100000 to
// 339999, plain digits above.
func FormatNORAD(n int) string {
	if n >= alpha5Min && n <= alpha5Max {
		return fmt.Sprintf("%c%04d", alpha5Letters[n/10000-10], n%10000)
	}
	return fmt.Sprintf("%05d", n)
}
