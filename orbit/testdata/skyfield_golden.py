#!/usr/bin/python3
"""Write orbit/testdata/skyfield_golden.json: look angles and passes computed by Skyfield.

The Go tests (look_skyfield_test.go, pass_skyfield_test.go) read the JSON and need no Python.
Regenerate with Debian's Skyfield 1.45 (apt-get install python3-skyfield):

    /usr/bin/python3 orbit/testdata/skyfield_golden.py > orbit/testdata/skyfield_golden.json

Nothing is downloaded: the timescale is the built-in one (its own delta-T / UT1 table, no polar
motion), and the propagator is Skyfield's SGP4 (the python-sgp4 library, WGS-72, improved mode).

To keep the comparison fair, each sample records the UT1-UTC that Skyfield used (t.dut1), and
the Go side passes the same value. With the built-in timescale Skyfield applies no polar motion,
so its TEME -> GCRS -> ITRS -> topocentric chain reduces to the same GMST-82 rotation the Go
code uses; what remains is rounding and Skyfield's own refinement tolerances.

Passes come from a scan of Skyfield's altitude every 10 s over the window; each rise and set is
refined by bisection on Skyfield's altitude to about 0.1 ms and each culmination by a
golden-section search to about 1 ms, so the golden times are Skyfield's answer and not a search
tolerance. Skyfield's own find_events is not used for the times: it places rises and sets only
within several seconds (up to 80 s for slow objects here) and reports nothing for a pass whose
peak lies outside the window (XMM-Newton from the high-altitude station). Its counts of rises and
sets are recorded for reference.
"""

import json
import math
import sys

import numpy

from skyfield.api import EarthSatellite, load, wgs84
from skyfield.sgp4lib import theta_GMST1982

TLE_FILE = "/work/shared/data/celestrak-active-2026-177.tle"
NORAD_IDS = [25544, 900, 14129, 24876, 26900, 25989]
STATIONS = [
    {"name": "48N", "lat": 48.1482, "lon": 11.5689, "alt_m": 520.0},
    {"name": "equator", "lat": 0.0, "lon": 36.8, "alt_m": 0.0},
    {"name": "35S", "lat": -35.4014, "lon": 148.9817, "alt_m": 680.0},
    {"name": "high-altitude", "lat": -23.0229, "lon": -67.7552, "alt_m": 5050.0},
]
WINDOW_START = (2026, 6, 27, 0, 0, 0.0)
WINDOW_HOURS = 24
MIN_ELEVATIONS = [0.0, 10.0]
# Fixed sample offsets into the window, seconds (with sub-second parts on purpose).
FIXED_OFFSETS = [1043.456789, 20471.25, 46999.999001, 71943.5]
ATMOSPHERE = {"pressure_hpa": 1010.0, "temperature_c": 10.0}
DAY_S = 86400.0
# The altitude scan step, seconds: passes are found where the scan changes sign.
SCAN_S = 10.0

ts = load.timescale(builtin=True)


def read_tles(path):
    with open(path) as f:
        lines = [l.rstrip("\r\n") for l in f if l.strip()]
    out = {}
    for i in range(0, len(lines), 3):
        name, l1, l2 = lines[i].strip(), lines[i + 1], lines[i + 2]
        out[int(l1[2:7])] = (name, l1, l2)
    return out


def iso(t):
    """Format a Skyfield time as RFC 3339 UTC with microseconds."""
    y, mo, d, h, mi, s = t.utc
    whole = int(math.floor(s))
    us = int(round((s - whole) * 1e6))
    if us == 1000000:
        whole, us = whole + 1, 0
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (y, mo, d, h, mi, whole, us)


def from_iso(text):
    """Parse what iso() writes back into a Skyfield time."""
    date, clock = text.rstrip("Z").split("T")
    y, mo, d = (int(x) for x in date.split("-"))
    h, mi, sec = clock.split(":")
    return ts.utc(y, mo, d, int(h), int(mi), float(sec))


def at_offset(seconds):
    y, mo, d, h, mi, s = WINDOW_START
    return ts.utc(y, mo, d, h, mi, s + seconds)


def sample(sat, topos, t):
    diff = (sat - topos).at(t)
    alt, az, dist = diff.altaz()
    alt_app, _, _ = diff.altaz(temperature_C=ATMOSPHERE["temperature_c"],
                               pressure_mbar=ATMOSPHERE["pressure_hpa"])
    _, _, _, _, _, range_rate = diff.frame_latlon_and_rates(topos)
    r, v, err = sat._position_and_velocity_TEME_km(t)
    if err:
        raise RuntimeError(err)
    sub = wgs84.geographic_position_of(sat.at(t))
    theta, _ = theta_GMST1982(t.whole, t.ut1_fraction)
    return {
        "time": iso(t),
        "ut1_minus_utc": float(t.dut1),
        "gmst_rad": float(theta % (2 * math.pi)),
        "teme_r_km": [float(x) for x in r],
        "teme_v_km_s": [float(x) for x in v],
        "az": float(az.degrees),
        "el": float(alt.degrees),
        "el_refracted": float(alt_app.degrees),
        "range_km": float(dist.km),
        "range_rate_km_s": float(range_rate.km_per_s),
        "sub_lat": float(sub.latitude.degrees),
        "sub_lon": float(sub.longitude.degrees),
        "sub_alt_km": float(sub.elevation.km),
    }


def altitude(sat, topos, jd):
    return (sat - topos).at(ts.tt_jd(jd)).altaz()[0].degrees


def bisect_crossing(sat, topos, lo, hi, min_el):
    """Bisect Skyfield's altitude - min_el between TT Julian dates lo and hi to 1e-9 day."""
    f_lo = altitude(sat, topos, lo) - min_el > 0
    while hi - lo > 1e-9:
        mid = (lo + hi) / 2
        if (altitude(sat, topos, mid) - min_el > 0) == f_lo:
            lo = mid
        else:
            hi = mid
    return ts.tt_jd((lo + hi) / 2)


def golden_max(sat, topos, a, b):
    """Golden-section search of Skyfield's altitude on [a, b] (TT Julian dates) to 1e-8 day."""
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = altitude(sat, topos, c), altitude(sat, topos, d)
    while b - a > 1e-8:
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = altitude(sat, topos, c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = altitude(sat, topos, d)
    return ts.tt_jd((a + b) / 2)


def passes(sat, topos, t0, t1, min_el):
    """Passes from a scan of Skyfield's altitude every SCAN_S seconds, each rise and set refined
    by bisection and each culmination by golden-section search, all on Skyfield's altitude."""
    n = int(round((t1.tt - t0.tt) * DAY_S / SCAN_S)) + 1
    jds = t0.tt + numpy.arange(n) * (SCAN_S / DAY_S)
    jds[-1] = t1.tt
    alts = (sat - topos).at(ts.tt_jd(jds)).altaz()[0].degrees
    vis = alts > min_el
    out, cur = [], None
    if vis[0]:
        cur = {"aos": None, "first": 0}
    for i in range(n - 1):
        if vis[i] == vis[i + 1]:
            continue
        t = bisect_crossing(sat, topos, jds[i], jds[i + 1], min_el)
        if vis[i + 1]:
            cur = {"aos": iso(t), "first": i + 1}
        else:
            cur["los"] = iso(t)
            cur["last"] = i
            out.append(cur)
            cur = None
    if cur is not None:
        cur["los"], cur["last"] = None, n - 1
        out.append(cur)
    for p in out:
        first, last = p.pop("first"), p.pop("last")
        k = first + int(numpy.argmax(alts[first:last + 1]))
        a = jds[max(k - 1, 0)]
        b = jds[min(k + 1, n - 1)]
        if p["aos"] is None:
            a = max(a, t0.tt)
        tca = golden_max(sat, topos, a, b)
        p["tca"] = iso(tca)
        p["max_el"] = float((sat - topos).at(tca).altaz()[0].degrees)
        for key in ("aos", "los"):
            if p[key]:
                p[key + "_az"] = float((sat - topos).at(from_iso(p[key])).altaz()[1].degrees)
    _, events = sat.find_events(topos, t0, t1, altitude_degrees=min_el)
    return {
        "min_el": min_el,
        "el_at_start": float(alts[0]),
        "el_at_end": float(alts[-1]),
        "find_events_rises": int((events == 0).sum()),
        "find_events_sets": int((events == 2).sum()),
        "passes": out,
    }


def main():
    tles = read_tles(TLE_FILE)
    t0 = at_offset(0)
    t1 = at_offset(WINDOW_HOURS * 3600)
    doc = {
        "generator": "orbit/testdata/skyfield_golden.py",
        "skyfield_version": __import__("skyfield").__version__,
        "window_start": iso(t0),
        "window_end": iso(t1),
        "atmosphere": ATMOSPHERE,
        "objects": [],
    }
    for norad in NORAD_IDS:
        name, l1, l2 = tles[norad]
        sat = EarthSatellite(l1, l2, name, ts)
        obj = {"norad": norad, "name": name, "line1": l1, "line2": l2, "stations": []}
        for st in STATIONS:
            topos = wgs84.latlon(st["lat"], st["lon"], elevation_m=st["alt_m"])
            entry = dict(st)
            entry["pass_searches"] = [passes(sat, topos, t0, t1, m) for m in MIN_ELEVATIONS]
            times = [at_offset(s) for s in FIXED_OFFSETS]
            full = [p for p in entry["pass_searches"][0]["passes"] if p.get("aos") and p.get("los")]
            if full:
                p = full[0]
                for key, off in (("aos", 30), ("tca", 0), ("los", -30)):
                    t = from_iso(p[key])
                    times.append(ts.tt_jd(t.tt + off / DAY_S))
            entry["samples"] = [sample(sat, topos, t) for t in times]
            obj["stations"].append(entry)
            print("norad %d %s: %d samples" % (norad, st["name"], len(entry["samples"])),
                  file=sys.stderr)
        doc["objects"].append(obj)
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
