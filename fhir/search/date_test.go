package search

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Range
		wantErr bool
	}{
		{name: "Year", in: "2024", want: rng("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z")},
		{name: "Month", in: "2024-02", want: rng("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z")},
		{
			name: "DecemberRollsYear",
			in:   "2024-12",
			want: rng("2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"),
		},
		{name: "Day", in: "2024-03-31", want: rng("2024-03-31T00:00:00Z", "2024-04-01T00:00:00Z")},
		{
			name: "LeapDay",
			in:   "2024-02-29",
			want: rng("2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"),
		},
		{
			name: "LeapDay2000",
			in:   "2000-02-29",
			want: rng("2000-02-29T00:00:00Z", "2000-03-01T00:00:00Z"),
		},
		{name: "NotLeap2023", in: "2023-02-29", wantErr: true},
		{name: "NotLeap1900", in: "1900-02-29", wantErr: true},
		{name: "February30", in: "2024-02-30", wantErr: true},
		{name: "April31", in: "2024-04-31", wantErr: true},
		{name: "Month13", in: "2024-13", wantErr: true},
		{name: "Month00", in: "2024-00", wantErr: true},
		{name: "Day00", in: "2024-01-00", wantErr: true},
		{name: "OneDigitMonth", in: "2024-1", wantErr: true},
		{name: "Year0000", in: "0000", wantErr: true},
		{name: "ShortYear", in: "24", wantErr: true},
		{name: "Empty", in: "", wantErr: true},
		{
			name: "SecondUTC",
			in:   "2024-01-15T10:20:30Z",
			want: rng("2024-01-15T10:20:30Z", "2024-01-15T10:20:31Z"),
		},
		{
			name: "PositiveZoneToUTC",
			in:   "2024-01-01T01:30:00+05:30",
			want: rng("2023-12-31T20:00:00Z", "2023-12-31T20:00:01Z"),
		},
		{
			name: "NegativeZoneCrossesMonthEnd",
			in:   "2024-02-29T22:00:00-03:00",
			want: rng("2024-03-01T01:00:00Z", "2024-03-01T01:00:01Z"),
		},
		{
			name: "Zone1400",
			in:   "2024-01-01T00:00:00+14:00",
			want: rng("2023-12-31T10:00:00Z", "2023-12-31T10:00:01Z"),
		},
		{name: "Zone1401", in: "2024-01-01T00:00:00+14:01", wantErr: true},
		{name: "Zone1500", in: "2024-01-01T00:00:00-15:00", wantErr: true},
		{name: "ZoneWithoutColon", in: "2024-01-01T00:00:00+0100", wantErr: true},
		{name: "ZoneLetter", in: "2024-01-01T00:00:00X", wantErr: true},
		{
			name: "NoZoneIsUTC",
			in:   "2024-01-01T12:00:00",
			want: rng("2024-01-01T12:00:00Z", "2024-01-01T12:00:01Z"),
		},
		{
			name: "Minute",
			in:   "2024-01-01T12:00Z",
			want: rng("2024-01-01T12:00:00Z", "2024-01-01T12:01:00Z"),
		},
		{name: "HourOnly", in: "2024-01-01T12", wantErr: true},
		{name: "Hour24", in: "2024-01-01T24:00:00Z", wantErr: true},
		{name: "Minute60", in: "2024-01-01T10:60:00Z", wantErr: true},
		{
			name: "LeapSecond",
			in:   "2016-12-31T23:59:60Z",
			want: rng("2017-01-01T00:00:00Z", "2017-01-01T00:00:01Z"),
		},
		{
			name: "Millisecond",
			in:   "2024-01-01T00:00:00.123Z",
			want: rng("2024-01-01T00:00:00.123Z", "2024-01-01T00:00:00.124Z"),
		},
		{
			name: "ShortFraction",
			in:   "2024-01-01T00:00:00.5+01:00",
			want: rng("2023-12-31T23:00:00.5Z", "2023-12-31T23:00:00.501Z"),
		},
		{
			name: "LongFractionTruncated",
			in:   "2024-01-01T00:00:00.123987Z",
			want: rng("2024-01-01T00:00:00.123Z", "2024-01-01T00:00:00.124Z"),
		},
		{name: "EmptyFraction", in: "2024-01-01T00:00:00.Z", wantErr: true},
		{name: "TrailingJunk", in: "2024-01-01x", wantErr: true},
		{name: "SpaceSeparator", in: "2024-01-01 10:00:00Z", wantErr: true},
		{
			name: "MaxYearClamped",
			in:   "9999",
			want: Range{Lo: utc("9999-01-01T00:00:00Z"), Hi: MaxTime},
		},
		{name: "MinYear", in: "0001", want: Range{Lo: MinTime, Hi: utc("0002-01-01T00:00:00Z")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDate(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if !got.Lo.Equal(tc.want.Lo) || !got.Hi.Equal(tc.want.Hi) {
				t.Errorf("got [%s, %s), want [%s, %s)", got.Lo, got.Hi, tc.want.Lo, tc.want.Hi)
			}
			if got.Lo.Location() != time.UTC || got.Hi.Location() != time.UTC {
				t.Errorf("got zones %s and %s, want UTC", got.Lo.Location(), got.Hi.Location())
			}
		})
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "ASCII", in: "McDonald", want: "mcdonald"},
		{name: "Umlaut", in: "Ünal", want: "unal"},
		{name: "Diaeresis", in: "Zoë", want: "zoe"},
		{name: "Cedilla", in: "François", want: "francois"},
		{name: "DecomposedInput", in: "Jose\u0301", want: "jose"},
		{name: "DottedCapitalI", in: "İstanbul", want: "istanbul"},
		{name: "NoDecomposition", in: "Øyvind Straße", want: "øyvind straße"},
		{name: "CJK", in: "张无忌", want: "张无忌"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fold(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
