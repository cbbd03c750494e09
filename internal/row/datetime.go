package row

import "time"

// parseDateTime parses an RFC 3339 date-time (section 5.6): full-date, 'T', hh:mm:ss
// with an optional fraction, then 'Z' or ±hh:mm; 't' and 'z' may be lowercase. Second
// 60 is accepted only at 23:59 UTC, where leap seconds are inserted; Go's time has no
// leap seconds, so it reads as the next minute's start.
func parseDateTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[10] != 'T' && s[10] != 't' {
		return time.Time{}, false
	}
	for i, c := range []byte(s[:10]) {
		if i != 4 && i != 7 && !isDigit(c) {
			return time.Time{}, false
		}
	}
	date, err := time.Parse(time.DateOnly, s[:10]) // also checks the day exists
	if err != nil {
		return time.Time{}, false
	}
	t := s[11:]
	hour, ok1 := twoDigits(t[0:2])
	minute, ok2 := twoDigits(t[3:5])
	sec, ok3 := twoDigits(t[6:8])
	if !ok1 || !ok2 || !ok3 || t[2] != ':' || t[5] != ':' || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	t = t[8:]
	nanos := 0
	if len(t) > 0 && t[0] == '.' {
		n := 1
		for n < len(t) && isDigit(t[n]) {
			if n <= 9 {
				nanos = nanos*10 + int(t[n]-'0')
			}
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		for i := n; i <= 9; i++ {
			nanos *= 10
		}
		t = t[n:]
	}
	offset := 0 // seconds east of UTC
	switch {
	case t == "Z" || t == "z":
	case len(t) == 6 && (t[0] == '+' || t[0] == '-') && t[3] == ':':
		oh, ok1 := twoDigits(t[1:3])
		om, ok2 := twoDigits(t[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if t[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	if sec == 60 {
		utcMinute := ((hour*60+minute-offset/60)%1440 + 1440) % 1440
		if utcMinute != 23*60+59 {
			return time.Time{}, false
		}
	}
	loc := time.UTC
	if offset != 0 {
		loc = time.FixedZone("", offset)
	}
	y, mo, d := date.Date()
	return time.Date(y, mo, d, hour, minute, sec, nanos, loc), true
}

// twoDigits parses exactly two decimal digits.
func twoDigits(s string) (int, bool) {
	if len(s) != 2 || !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
