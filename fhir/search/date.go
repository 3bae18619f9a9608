package search

import (
	"errors"
	"time"
)

// errBadDate is returned for a value that is not a FHIR date, dateTime or
// instant. It never carries the value.
var errBadDate = errors.New("not a valid FHIR date, dateTime or instant")

// parseDate parses a FHIR date, dateTime or instant
// (https://hl7.org/fhir/R4/datatypes.html#primitive) into the UTC range its
// precision covers (https://hl7.org/fhir/R4/search.html#date):
//
//	2024                       the whole year
//	2024-02                    the month
//	2024-02-29                 the day, in UTC
//	2024-02-29T10:00+01:00     the minute (search values only)
//	2024-02-29T10:00:00Z       the second
//	2024-02-29T10:00:00.5Z     the millisecond (digits past 3 are dropped)
//
// A time without a zone, which valid resources never hold, is taken as UTC.
// Ranges are clamped to [MinTime, MaxTime].
func parseDate(s string) (Range, error) {
	p := dateParser{s: s, ok: true}
	year := p.digits(4, 1, 9999)
	if !p.ok {
		return Range{}, errBadDate
	}
	if p.done() {
		lo := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		return clamp(lo, lo.AddDate(1, 0, 0)), nil
	}

	p.expect('-')
	month := p.digits(2, 1, 12)
	if !p.ok {
		return Range{}, errBadDate
	}
	if p.done() {
		lo := time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC)
		return clamp(lo, lo.AddDate(0, 1, 0)), nil
	}

	p.expect('-')
	day := p.digits(2, 1, daysIn(year, time.Month(month)))
	if !p.ok {
		return Range{}, errBadDate
	}
	if p.done() {
		lo := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return clamp(lo, lo.AddDate(0, 0, 1)), nil
	}

	p.expect('T')
	hour := p.digits(2, 0, 23)
	p.expect(':')
	minute := p.digits(2, 0, 59)
	sec, nsec, step := 0, 0, time.Minute
	if p.peek(':') {
		p.expect(':')
		// 60 is a leap second; time.Date carries it into the next minute.
		sec, step = p.digits(2, 0, 60), time.Second
		if p.peek('.') {
			p.expect('.')
			nsec, step = p.fraction(), time.Millisecond
		}
	}
	loc := p.zone()
	if !p.ok || !p.done() {
		return Range{}, errBadDate
	}

	lo := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc).UTC()
	return clamp(lo, lo.Add(step)), nil
}

// daysIn returns the number of days of month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func clamp(lo, hi time.Time) Range {
	if lo.Before(MinTime) {
		lo = MinTime
	}
	if hi.After(MaxTime) {
		hi = MaxTime
	}
	if hi.Before(lo) {
		hi = lo
	}
	return Range{Lo: lo, Hi: hi}
}

// dateParser reads a date left to right; the first mismatch clears ok and
// every later step then does nothing.
type dateParser struct {
	s  string
	i  int
	ok bool
}

func (p *dateParser) done() bool { return p.i == len(p.s) }

func (p *dateParser) peek(c byte) bool { return p.ok && p.i < len(p.s) && p.s[p.i] == c }

func (p *dateParser) expect(c byte) {
	if p.peek(c) {
		p.i++
		return
	}
	p.ok = false
}

// digits reads exactly n digits holding a number in [lo, hi].
func (p *dateParser) digits(n, lo, hi int) int {
	if !p.ok || p.i+n > len(p.s) {
		p.ok = false
		return 0
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+n]) {
		if c < '0' || c > '9' {
			p.ok = false
			return 0
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	if v < lo || v > hi {
		p.ok = false
	}
	return v
}

// fraction reads one or more digits of a fraction of a second and returns
// it in nanoseconds, truncated to the millisecond.
func (p *dateParser) fraction() int {
	start, ms := p.i, 0
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		if p.i-start < 3 {
			ms = ms*10 + int(p.s[p.i]-'0')
		}
		p.i++
	}
	n := p.i - start
	if n == 0 {
		p.ok = false
	}
	for ; n < 3; n++ {
		ms *= 10
	}
	return ms * int(time.Millisecond)
}

// zone reads "Z", "+hh:mm" or "-hh:mm" (at most 14:00), or nothing (UTC).
func (p *dateParser) zone() *time.Location {
	switch {
	case !p.ok || p.done():
		return time.UTC
	case p.peek('Z'):
		p.i++
		return time.UTC
	case p.peek('+'), p.peek('-'):
		sign := 1
		if p.s[p.i] == '-' {
			sign = -1
		}
		p.i++
		h := p.digits(2, 0, 14)
		p.expect(':')
		m := p.digits(2, 0, 59)
		if h == 14 && m != 0 {
			p.ok = false
		}
		return time.FixedZone("", sign*(h*3600+m*60))
	}
	p.ok = false
	return time.UTC
}
