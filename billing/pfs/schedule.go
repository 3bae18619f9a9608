package pfs

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// Lookup errors of a [Schedule]. They never carry the state or county asked
// about: those come from a patient's address.
var (
	ErrUnknownState = errors.New("pfs: state not in the fee schedule")
	ErrNoLocality   = errors.New("pfs: no payment locality for the county")
)

// Schedule is one year's fee schedule in memory: the RVU rows by code and
// modifier, the GPCIs by locality, and the counties of each locality. It is
// read-only after [NewSchedule] and safe for concurrent use.
type Schedule struct {
	Year int
	CF   decimal.Decimal // conversion factor, taken from the RVU rows

	rvus   map[rvuKey]RVU
	gpcis  map[Locality]GPCI
	states map[string]*stateAreas // by USPS state code
	abbr   map[string]string      // folded state name or code -> USPS code
}

type rvuKey struct{ code, mod string }

// stateAreas is how the counties of one state map to localities.
type stateAreas struct {
	named      map[string]Locality // folded county name -> locality
	rest       *Locality           // the "all (other) counties" locality
	except     map[string]bool     // folded counties the rest locality excludes
	localities map[Locality]bool   // every locality of the state in the GPCI file
}

// Load parses the three CMS files and builds the schedule of year.
func Load(year int, rvu, gpci, counties io.Reader) (*Schedule, error) {
	r, err := ParseRVU(rvu)
	if err != nil {
		return nil, err
	}
	g, err := ParseGPCI(gpci)
	if err != nil {
		return nil, err
	}
	c, err := ParseCounties(counties)
	if err != nil {
		return nil, err
	}

	return NewSchedule(year, r, g, c)
}

// NewSchedule builds the schedule of year from parsed rows. It fails when
// RVU rows repeat a code and modifier, disagree on the conversion factor or
// carry none, when GPCI rows repeat a locality, when a county row names a
// locality the GPCI rows lack, or when two rows claim the same county or
// the same state's remaining counties for different localities. County rows
// that repeat an earlier row's locality add to it (the 2025 file lists
// Missouri's rest of state twice).
func NewSchedule(year int, rvus []RVU, gpcis []GPCI, counties []County) (*Schedule, error) {
	s := &Schedule{
		Year:   year,
		rvus:   make(map[rvuKey]RVU, len(rvus)),
		gpcis:  make(map[Locality]GPCI, len(gpcis)),
		states: make(map[string]*stateAreas),
		abbr:   make(map[string]string),
	}

	for _, r := range rvus {
		k := rvuKey{normCode(r.Code), strings.ToUpper(r.Modifier)}
		if _, dup := s.rvus[k]; dup {
			return nil, fmt.Errorf("pfs: RVU rows repeat code %s modifier %q", k.code, k.mod)
		}
		s.rvus[k] = r
		if s.CF.IsZero() {
			s.CF = r.CF
		} else if !r.CF.Equal(s.CF) {
			return nil, fmt.Errorf("pfs: RVU row %s%s has CF %s, others %s",
				k.code, k.mod, r.CF, s.CF)
		}
	}
	if s.CF.Sign() <= 0 {
		return nil, errors.New("pfs: RVU rows carry no conversion factor")
	}

	for _, g := range gpcis {
		if _, dup := s.gpcis[g.Locality]; dup {
			return nil, fmt.Errorf("pfs: GPCI rows repeat locality %s", g.Locality)
		}
		s.gpcis[g.Locality] = g
		s.abbr[g.State] = g.State
		s.areas(g.State).localities[g.Locality] = true
	}

	if err := s.indexCounties(counties); err != nil {
		return nil, err
	}

	return s, nil
}

func (s *Schedule) areas(state string) *stateAreas {
	a := s.states[state]
	if a == nil {
		a = &stateAreas{
			named:      make(map[string]Locality),
			except:     make(map[string]bool),
			localities: make(map[Locality]bool),
		}
		s.states[state] = a
	}

	return a
}

// indexCounties learns state names from the county rows (each row's
// locality gives its USPS code through the GPCI rows), then maps counties.
func (s *Schedule) indexCounties(counties []County) error {
	for _, c := range counties {
		g, ok := s.gpcis[c.Locality]
		if !ok {
			return fmt.Errorf("pfs: county row %s names locality %s, which has no GPCI",
				c.State, c.Locality)
		}
		for _, name := range strings.Split(c.State, "/") {
			k := foldState(name)
			if prev, ok := s.abbr[k]; ok && prev != g.State {
				return fmt.Errorf("pfs: state %s is both %s and %s", name, prev, g.State)
			}
			s.abbr[k] = g.State
		}
	}

	for _, c := range counties {
		home := s.gpcis[c.Locality].State
		for _, a := range c.Areas {
			st := home
			if a.State != "" {
				var ok bool
				if st, ok = s.abbr[foldState(a.State)]; !ok {
					return fmt.Errorf("pfs: county row %s names unknown state %s",
						c.Locality, a.State)
				}
			}
			if err := s.areas(st).add(c.Locality, a); err != nil {
				return fmt.Errorf("pfs: county row %s: %w", c.Locality, err)
			}
		}
	}

	return nil
}

func (sa *stateAreas) add(loc Locality, a CountyArea) error {
	if a.All {
		if sa.rest != nil && *sa.rest != loc {
			return fmt.Errorf("remaining counties already in locality %s", *sa.rest)
		}
		sa.rest = &loc
		for _, n := range a.Except {
			sa.except[foldCounty(n)] = true
		}

		return nil
	}

	for _, n := range a.Names {
		k := foldCounty(n)
		if prev, ok := sa.named[k]; ok && prev != loc {
			return fmt.Errorf("county %s already in locality %s", n, prev)
		}
		sa.named[k] = loc
	}

	return nil
}

// foldState folds a state name or code for comparison: upper case, single
// spaces.
func foldState(s string) string {
	return strings.Join(strings.Fields(strings.ToUpper(s)), " ")
}

// RVU returns the row of code with the pricing modifier mod: "" for the
// global service, "26" for the professional component, "TC" for the
// technical component, "53" for a discontinued procedure. Codes are matched
// case-insensitively and anesthesia codes with or without leading zeros.
func (s *Schedule) RVU(code, mod string) (RVU, bool) {
	r, ok := s.rvus[rvuKey{normCode(code), strings.ToUpper(strings.TrimSpace(mod))}]

	return r, ok
}

// GPCI returns the indices of locality l.
func (s *Schedule) GPCI(l Locality) (GPCI, bool) {
	g, ok := s.gpcis[l]

	return g, ok
}

// Localities returns every locality's GPCI row, sorted by state code and
// locality number.
func (s *Schedule) Localities() []GPCI {
	out := make([]GPCI, 0, len(s.gpcis))
	for _, g := range s.gpcis {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].State != out[j].State {
			return out[i].State < out[j].State
		}
		if out[i].Locality.Number != out[j].Locality.Number {
			return out[i].Locality.Number < out[j].Locality.Number
		}

		return out[i].Locality.MAC < out[j].Locality.MAC
	})

	return out
}

// LocalityFor returns the payment locality of a county. state is a USPS
// code ("NY") or a name as in the county file ("New York", "Guam");
// county is compared case-insensitively, ignoring punctuation, a trailing
// "County", "Parish" or "Borough", and "Saint" against "St.".
//
// The county's own locality wins; otherwise the state's "all counties" or
// "rest of state" locality, unless it excludes the county; otherwise the
// state's only locality, if it has one (DC). An empty county gives the
// rest-of-state locality. Errors wrap [ErrUnknownState] or [ErrNoLocality].
func (s *Schedule) LocalityFor(state, county string) (Locality, error) {
	st, ok := s.abbr[foldState(state)]
	if !ok {
		return Locality{}, ErrUnknownState
	}
	sa := s.states[st]

	k := foldCounty(county)
	if loc, ok := sa.named[k]; ok && k != "" {
		return loc, nil
	}
	if sa.rest != nil && !sa.except[k] {
		return *sa.rest, nil
	}
	if len(sa.localities) == 1 {
		for loc := range sa.localities {
			return loc, nil
		}
	}

	return Locality{}, ErrNoLocality
}
