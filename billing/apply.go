package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cidpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_definition_go_proto"
	cipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/charge_item_go_proto"
)

// Apply prices chargeItem against one ChargeItemDefinition, as
// ChargeItemDefinition/$apply does
// (https://hl7.org/fhir/R4/chargeitemdefinition-operation-apply.html), and
// returns the priced ChargeItem without storing anything. The definition
// must not be retired, must define the ChargeItem's code (a coding with
// the same system and code), be in effect on the ChargeItem's date
// (occurrence, else enteredDate, else today) and carry no modifier the
// ChargeItem lacks.
//
// The price is that of the definition's price components (see doc.go):
// the unit price, rounded to the cent, times ChargeItem.quantity (1 when
// absent), rounded to the cent. It goes in priceOverride, with an
// overrideReason naming the definition: R4 has no other ChargeItem element
// for a price, and the returned item is a quote, not a stored charge. The
// result also names the definition (definitionCanonical or definitionUri)
// and carries the pricing-trail extension. It carries no meta.versionId
// or meta.lastUpdated: it is not a stored version.
//
// Errors are *resource.Error: 400 when the resources are of the wrong
// type or an amount is in another currency, 422 when the definition does
// not apply to the ChargeItem or has no base price.
func (b *Biller) Apply(ctx context.Context, definition, chargeItem *resource.Resource) (*resource.Resource, error) {
	if definition == nil || definition.Type() != "ChargeItemDefinition" {
		return nil, badRequest("ChargeItemDefinition", "$apply needs a ChargeItemDefinition")
	}
	if chargeItem == nil || chargeItem.Type() != "ChargeItem" {
		return nil, badRequest("chargeItem", "$apply needs a ChargeItem to price")
	}
	d := definition.Proto().(*cidpb.ChargeItemDefinition)
	ci := proto.Clone(chargeItem.Proto()).(*cipb.ChargeItem)

	if d.GetStatus().GetValue() == cpb.PublicationStatusCode_RETIRED {
		return nil, unprocessable("ChargeItemDefinition.status", "%s is retired", definitionName(d))
	}
	if !sameCode(d.GetCode(), ci.GetCode()) {
		return nil, unprocessable("ChargeItem.code", "%s does not define the ChargeItem's code",
			definitionName(d))
	}
	now := b.now().UTC()
	date, _ := chargeItemDate(ci, time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC))
	if !covers(d.GetEffectivePeriod(), date) {
		return nil, unprocessable("ChargeItemDefinition.effectivePeriod",
			"%s is not in effect on the ChargeItem's date", definitionName(d))
	}
	cm, err := readModifiers("ChargeItem/"+ci.GetId().GetValue(),
		extAt{"ChargeItem", ci.GetExtension()}, extAt{"ChargeItem.code", ci.GetCode().GetExtension()})
	if err != nil {
		return nil, err
	}
	dm, err := definitionModifiers(d)
	if err != nil {
		return nil, err
	}
	if mods := modifierCodes(cm); !subset(modifierCodes(dm), mods) {
		return nil, unprocessable("ChargeItem.extension",
			"%s prices the code with modifiers the ChargeItem does not have", definitionName(d))
	}

	p, err := priceOf(d, b.currency, true)
	if errors.Is(err, errNoBase) {
		return nil, unprocessable("ChargeItemDefinition.propertyGroup",
			"%s has no base price component with an amount", definitionName(d))
	}
	if err != nil {
		return nil, err
	}
	qty := decimal.NewFromInt(1)
	if q := ci.GetQuantity().GetValue(); q != nil {
		if qty, err = ParseMoney(q.GetValue()); err != nil || qty.Sign() < 0 {
			return nil, badRequest("ChargeItem.quantity", "the quantity must be a decimal, 0 or more")
		}
	}
	unit := RoundCent(p.amount)
	total := RoundCent(unit.Mul(qty))

	// The answer is a quote, not a stored version: it names none.
	if m := ci.GetMeta(); m != nil {
		m.VersionId, m.LastUpdated = nil, nil
		if proto.Size(m) == 0 {
			ci.Meta = nil
		}
	}
	ci.PriceOverride = money(total, b.currency)
	ci.OverrideReason = &dtpb.String{Value: "priced by ChargeItemDefinition/$apply of " + definitionName(d)}
	ci.DefinitionCanonical, ci.DefinitionUri = nil, nil
	setDefinition(ci, d)
	var exts []*dtpb.Extension
	for _, e := range ci.GetExtension() {
		if e.GetUrl().GetValue() != ExtPricingTrail {
			exts = append(exts, e)
		}
	}
	ci.Extension = append(exts, stringExt(ExtPricingTrail, fmt.Sprintf("unit %s from %s; %s × quantity %s = %s",
		FormatMoney(unit), p.trail, FormatMoney(unit), qty, FormatMoney(total))))
	return resource.FromProto(ci)
}

// sameCode reports whether a and b share a coding (system and code).
func sameCode(a, b *dtpb.CodeableConcept) bool {
	for _, c := range a.GetCoding() {
		if c.GetCode().GetValue() != "" && hasCode(b, c.GetSystem().GetValue(), c.GetCode().GetValue()) {
			return true
		}
	}
	return false
}

// chargeItemDate is the date of a ChargeItem: occurrenceDateTime, the
// start of occurrencePeriod, else enteredDate, else fallback.
func chargeItemDate(ci *cipb.ChargeItem, fallback day) (day, bool) {
	for _, dt := range []*dtpb.DateTime{
		ci.GetOccurrence().GetDateTime(), ci.GetOccurrence().GetPeriod().GetStart(), ci.GetEnteredDate(),
	} {
		if d, ok := dayOf(dt); ok {
			return d, true
		}
	}
	return fallback, false
}
