package billing

import (
	"context"
	"errors"
	"sort"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dtpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	accpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/account_go_proto"
	invpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/invoice_go_proto"
)

// accounting is the cost-sharing outcome of one billing: the accumulator
// Account to write, and an older one to take this Invoice's entry out of.
type accounting struct {
	account *Change // nil for self-pay
	current stored  // the account as read
	stale   *Change // the Account the Invoice used before, when it changed
}

// shareCosts splits each billable line's allowed amount between patient
// and insurer with ApplyCostSharing, starting from the plan year's
// accumulator, and prepares the Account that records this Invoice's share.
func (b *Biller) shareCosts(ctx context.Context, in *inputs, lines []*line) (*accounting, error) {
	var billable []*line
	var allowed []Allowed
	vt := visitType(in.enc)
	for _, l := range lines {
		if !l.billable() {
			continue
		}
		a := Allowed{Date: l.date, Amount: l.allowed}
		if l.visit {
			a.VisitType = vt
		}
		billable = append(billable, l)
		allowed = append(allowed, a)
	}

	out := &accounting{}
	invRef := "Invoice/" + in.invoiceID
	if in.coverage == nil {
		shares, _ := ApplyCostSharing(Benefits{SelfPay: true}, Accumulator{}, allowed)
		for i, l := range billable {
			l.share = shares[i]
		}
		return out, b.staleAccount(ctx, in, "", out)
	}

	ben, err := b.benefits(in)
	if err != nil {
		return nil, err
	}
	start, end := planYear(in.coverage, in.dos)
	covID := in.coverage.GetId().GetValue()
	id := accountID(covID, start)
	r, v, err := b.records.Read(ctx, "Account", id)
	switch {
	case errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted):
		r = nil
		if errors.Is(err, resource.ErrNotFound) {
			v = 0
		}
	case err != nil:
		return nil, readError("Account", id, err)
	}

	acc := &accpb.Account{}
	if r != nil {
		acc = proto.Clone(r.Proto()).(*accpb.Account)
	}
	var sum Accumulator
	var kept []*dtpb.Extension
	for _, e := range acc.GetExtension() {
		ref, ded, oop, ok := readEntry(e)
		if !ok {
			kept = append(kept, e)
			continue
		}
		if ref == invRef {
			continue
		}
		sum.DeductibleMet = sum.DeductibleMet.Add(ded)
		sum.OutOfPocketMet = sum.OutOfPocketMet.Add(oop)
		kept = append(kept, e)
	}

	shares, _ := ApplyCostSharing(ben, sum, allowed)
	var ded, oop decimal.Decimal
	for i, l := range billable {
		l.share = shares[i]
		ded = ded.Add(shares[i].Deductible)
		oop = oop.Add(shares[i].PatientTotal)
	}
	kept = append(kept, entry(invRef, ded, oop, b.currency))
	sortEntries(kept)

	acc.Id = &dtpb.Id{Value: id}
	acc.Status = &accpb.Account_StatusCode{Value: cpb.AccountStatusCode_ACTIVE}
	acc.Name = &dtpb.String{Value: "Deductible and out-of-pocket accumulator"}
	acc.Description = &dtpb.String{Value: "What the patient paid toward the deductible and the " +
		"out-of-pocket maximum of one Coverage in one plan year: one accumulator extension per billed Invoice."}
	acc.Subject = []*dtpb.Reference{refTo(in.patient)}
	acc.ServicePeriod = &dtpb.Period{Start: dateOnly(start), End: dateOnly(end)}
	acc.Coverage = []*accpb.Account_Coverage{{Coverage: refTo("Coverage/" + covID)}}
	acc.Extension = kept
	res, err := resource.FromProto(acc)
	if err != nil {
		return nil, err
	}
	out.account = &Change{Resource: res, Prev: v}
	out.current = stored{res: r, version: v}
	return out, b.staleAccount(ctx, in, id, out)
}

// staleAccount takes this Invoice's entry out of the Account its stored
// version names when that is no longer the one billing writes to (the
// coverage or plan year changed).
func (b *Biller) staleAccount(ctx context.Context, in *inputs, current string, out *accounting) error {
	if in.invoice.res == nil {
		return nil
	}
	old := refID(in.invoice.res.Proto().(*invpb.Invoice).GetAccount(), "Account")
	if old == "" || old == current {
		return nil
	}
	ch, err := b.releaseEntry(ctx, old, in.invoiceID)
	out.stale = ch
	return err
}

// accountID is the id of the accumulator of a Coverage's plan year:
// "accum-<coverage id>-<plan year start>", a hash when that is too long.
func accountID(covID string, start day) string {
	s := "accum-" + covID + "-" + start.Format("20060102")
	if len(s) <= 64 && resource.ValidID(s) {
		return s
	}
	return derivedID("accum-", covID, start.Format("20060102"))
}

// entry builds one accumulator extension.
func entry(invoice string, deductible, outOfPocket decimal.Decimal, currency string) *dtpb.Extension {
	sub := func(url string, v *dtpb.Extension_ValueX) *dtpb.Extension {
		return &dtpb.Extension{Url: &dtpb.Uri{Value: url}, Value: v}
	}
	return &dtpb.Extension{
		Url: &dtpb.Uri{Value: ExtAccumulator},
		Extension: []*dtpb.Extension{
			sub("invoice", &dtpb.Extension_ValueX{Choice: &dtpb.Extension_ValueX_Reference{Reference: refTo(invoice)}}),
			sub("deductible", &dtpb.Extension_ValueX{Choice: &dtpb.Extension_ValueX_Money{
				Money: money(deductible, currency)}}),
			sub("outOfPocket", &dtpb.Extension_ValueX{Choice: &dtpb.Extension_ValueX_Money{
				Money: money(outOfPocket, currency)}}),
		},
	}
}

// readEntry reads an accumulator extension: the Invoice it counts and its
// deductible and out-of-pocket amounts.
func readEntry(e *dtpb.Extension) (invoice string, deductible, outOfPocket decimal.Decimal, ok bool) {
	if e.GetUrl().GetValue() != ExtAccumulator {
		return "", deductible, outOfPocket, false
	}
	for _, s := range e.GetExtension() {
		v := s.GetValue()
		switch s.GetUrl().GetValue() {
		case "invoice":
			invoice = refString(v.GetReference())
		case "deductible":
			deductible, _ = ParseMoney(v.GetMoney().GetValue().GetValue())
		case "outOfPocket":
			outOfPocket, _ = ParseMoney(v.GetMoney().GetValue().GetValue())
		}
	}
	return invoice, deductible, outOfPocket, invoice != ""
}

// sortEntries orders accumulator entries by Invoice, after any other
// extension, so that the Account's bytes do not depend on billing order.
func sortEntries(exts []*dtpb.Extension) {
	key := func(e *dtpb.Extension) string {
		ref, _, _, ok := readEntry(e)
		if !ok {
			return ""
		}
		return "\xff" + ref
	}
	sort.SliceStable(exts, func(i, j int) bool { return key(exts[i]) < key(exts[j]) })
}

// dateOnly builds a dateTime holding only the date d.
func dateOnly(d day) *dtpb.DateTime {
	return &dtpb.DateTime{ValueUs: d.UnixMicro(), Timezone: "UTC", Precision: dtpb.DateTime_DAY}
}
