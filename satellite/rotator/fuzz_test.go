package rotator

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// FuzzReadReply feeds arbitrary daemon output to the reply parser: it must never panic, and
// whatever it accepts must be a well-formed reply to the command asked.
func FuzzReadReply(f *testing.F) {
	seeds := []string{
		"get_pos:\nAzimuth: 1.81\nElevation: 1.81\nRPRT 0\n",
		"set_pos: 100 45\nRPRT -1\n",
		"get_pos:;Azimuth: 4.77;Elevation: 4.77;RPRT 0\n",
		"RPRT -4\n",
		"dump_state:\nrotctld Protocol Ver: 1\nMinimum Azimuth: -180.000000\ndone\nRPRT 0\n",
		"get_pos:\r\nAzimuth: 1\r\nRPRT 0\r\n",
		"get_pos:\nRPRT 3\n",
		"get_pos:\nAzimuth: 1\n",
		"",
		"\n\n\n",
		"get_pos:" + strings.Repeat("x", 5000) + "\n",
		"garbage\x00\xff\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(strings.NewReader(in), maxLineBytes)
		r, err := readReply(br, "get_pos")
		if err != nil {
			if r.Command != "" || len(r.Fields) != 0 {
				t.Fatalf("error %v with a non-empty reply %+v", err, r)
			}
			return
		}
		if r.Command != "get_pos" {
			t.Fatalf("accepted a reply to %q", r.Command)
		}
		if r.Code > 0 {
			t.Fatalf("accepted positive RPRT %d", r.Code)
		}
		if !strings.Contains(in, "RPRT ") {
			t.Fatalf("accepted a reply without an RPRT line: %q", in)
		}
		var he *HamlibError
		if e := r.err(); (r.Code == 0) != (e == nil) || (e != nil && !errors.As(e, &he)) {
			t.Fatalf("code %d gave error %v", r.Code, e)
		}
		for _, key := range []string{"Azimuth", "Elevation"} {
			_, _ = r.float(key) // must not panic
		}
	})
}

// FuzzLimitsValidate checks Validate never accepts a range Contains cannot use.
func FuzzLimitsValidate(f *testing.F) {
	f.Add(0.0, 360.0, 0.0, 90.0)
	f.Add(-180.0, 450.0, 0.0, 180.0)
	f.Fuzz(func(t *testing.T, minAz, maxAz, minEl, maxEl float64) {
		l := Limits{MinAz: minAz, MaxAz: maxAz, MinEl: minEl, MaxEl: maxEl}
		if l.Validate() != nil {
			return
		}
		if !l.Contains((minAz+maxAz)/2, (minEl+maxEl)/2) {
			t.Fatalf("valid limits %+v do not contain their own middle", l)
		}
	})
}
