package billing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fhirbill/fhirbill/billing/pfs"

	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
)

// pricingModifiers are the modifiers that select their own RVU row.
var pricingModifiers = []string{"26", "TC", "53"}

// medicare prices the lines whose payer rule is the Medicare Physician Fee
// Schedule: the schedule of each line's year, the billing provider's
// locality, the facility or non-facility rate of the place of service;
// then pfs.Adjust over the lines of each date of service and performer
// (bilateral, multiple procedure and assistant rules); then the contract
// factor. A line Medicare does not pay is not billable, with the reason.
func (b *Biller) medicare(ctx context.Context, in *inputs, c *contract, lines []*line) error {
	var todo []*line
	for _, l := range lines {
		if l.billable() && l.onPFS {
			todo = append(todo, l)
		}
	}
	if len(todo) == 0 {
		return nil
	}

	pos, posSource := placeOfService(in.enc, in.location)
	fac := facility(pos)
	setting := "non-facility"
	if fac {
		setting = "facility"
	}

	type group struct {
		lines []*line
	}
	groups := map[string]*group{}
	var order []string
	for _, l := range todo {
		year, yearNote := l.date.Year(), ""
		if c.pfsYear != 0 {
			year = c.pfsYear
			yearNote = fmt.Sprintf("; the %d schedule, as contract %s names (pfs-year), for a service in %d",
				year, definitionName(c.rule), l.date.Year())
		}
		s, err := b.schedule(ctx, year)
		if err != nil {
			return err
		}
		if s == nil {
			l.skip(fmt.Sprintf("no Medicare fee schedule for %d was imported", year))
			continue
		}
		loc, how, err := providerLocality(in.provider, s)
		if err != nil {
			l.skip("the billing provider's Medicare locality is unknown: " + err.Error())
			continue
		}
		mod := ""
		for _, m := range modifierCodes(l.modifiers) {
			if slices.Contains(pricingModifiers, m) {
				mod = m
				break
			}
		}
		fee, err := s.Price(l.code.GetCode().GetValue(), mod, loc, fac)
		if err != nil {
			l.skip(fmt.Sprintf("not in the %d Medicare Physician Fee Schedule: %s", s.Year, pfsError(err, mod)))
			continue
		}
		l.fee = fee
		l.trail = append(l.trail, fmt.Sprintf("place of service %s (%s), %s rate; locality %s%s",
			pos, posSource, setting, how, yearNote))

		k := l.date.Format("2006-01-02") + " " + refString(l.performer)
		if groups[k] == nil {
			groups[k] = &group{}
			order = append(order, k)
		}
		groups[k].lines = append(groups[k].lines, l)
	}

	for _, k := range order {
		g := groups[k]
		in := make([]pfs.Line, len(g.lines))
		for i, l := range g.lines {
			in[i] = pfs.Line{Fee: l.fee, Modifiers: modifierCodes(l.modifiers), Units: 1}
		}
		for i, out := range pfs.Adjust(in) {
			l := g.lines[i]
			l.fee = out.Fee
			if !out.Fee.Payable {
				l.skip("Medicare does not pay this service: " + out.Fee.Reason)
				continue
			}
			exact := out.Fee.Amount.Mul(l.pfsFactor)
			l.allowed = RoundCent(exact)
			l.trail = append(l.trail, fmt.Sprintf("allowed %s: payer %s contract %s rule medicare-pfs × %s: %s; %s × %s = %s → %s",
				FormatMoney(l.allowed), c.payer, definitionName(c.rule), l.pfsFactor, out.Fee.Trail.String(),
				FormatMoney(out.Fee.Amount), l.pfsFactor, exact, FormatMoney(l.allowed)))
		}
	}
	return nil
}

// schedule returns the fee schedule of year, or nil when there is none.
func (b *Biller) schedule(ctx context.Context, year int) (*pfs.Schedule, error) {
	if b.schedules == nil {
		return nil, nil
	}
	s, err := b.schedules.Schedule(ctx, year)
	if errors.Is(err, ErrNoSchedule) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fee schedule %d: %w", year, err)
	}
	return s, nil
}

// pfsError says why a code is not in the schedule.
func pfsError(err error, mod string) string {
	switch {
	case errors.Is(err, pfs.ErrUnknownCode) && mod != "":
		return "no row for this code with modifier " + mod
	case errors.Is(err, pfs.ErrUnknownCode):
		return "no row for this code"
	case errors.Is(err, pfs.ErrUnknownLocality):
		return "the billing provider's locality has no GPCI"
	}
	return "lookup failed"
}

// providerLocality is the billing provider's Medicare payment locality:
// its pfs-locality extension ("MAC-locality", e.g. "01182-18"; leading
// zeros of the MAC are optional), else the state and county (district) of
// its first address with a state, through the county file. It returns the
// locality and how it was found.
func providerLocality(org *orgpb.Organization, s *pfs.Schedule) (pfs.Locality, string, error) {
	if v := extString(org.GetExtension(), ExtPFSLocality); v != "" {
		loc, err := parseLocality(v)
		if err != nil {
			return pfs.Locality{}, "", err
		}
		if _, ok := s.GPCI(loc); !ok {
			loc.MAC = strings.TrimLeft(loc.MAC, "0")
		}
		if _, ok := s.GPCI(loc); !ok {
			return pfs.Locality{}, "", fmt.Errorf("the pfs-locality extension names a locality not in the %d schedule", s.Year)
		}
		return loc, loc.String() + " (pfs-locality extension)", nil
	}
	for _, a := range org.GetAddress() {
		state := a.GetState().GetValue()
		if state == "" {
			continue
		}
		loc, err := s.LocalityFor(state, a.GetDistrict().GetValue())
		if err != nil {
			return pfs.Locality{}, "", fmt.Errorf("the address gives no locality: %w", err)
		}
		if a.GetDistrict().GetValue() == "" {
			return loc, loc.String() + " (from the address's state alone: it names no county)", nil
		}
		return loc, loc.String() + " (from the address's state and county)", nil
	}
	return pfs.Locality{}, "", errors.New("no pfs-locality extension and no address with a state")
}

// parseLocality reads "MAC-locality".
func parseLocality(v string) (pfs.Locality, error) {
	i := strings.LastIndexByte(v, '-')
	if i <= 0 {
		return pfs.Locality{}, errors.New("the pfs-locality extension is not MAC-locality")
	}
	mac, num := v[:i], v[i+1:]
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strings.Trim(mac, "0123456789") != "" {
		return pfs.Locality{}, errors.New("the pfs-locality extension is not MAC-locality")
	}
	return pfs.Locality{MAC: mac, Number: n}, nil
}
