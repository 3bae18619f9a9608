package billing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fhirbill/fhirbill/fhir/resource"
)

// store writes what billing computed in one Commit, unless every resource
// equals its stored version, and returns the result as stored.
func (b *Biller) store(
	ctx context.Context,
	in *inputs,
	lines []*line,
	items []*resource.Resource,
	inv *resource.Resource,
	acc *accounting,
) (*Result, error) {
	res := &Result{Notes: in.notes}
	for i, l := range lines {
		if !l.billable() {
			res.NotBilled = append(res.NotBilled, Unbilled{
				ChargeItemID: items[i].ID(), Code: l.codeKey(), Reason: l.notBillable})
		}
	}

	var changes []Change
	changed := false
	add := func(r *resource.Resource, cur stored) error {
		d, err := differs(r, cur)
		if err != nil {
			return err
		}
		changed = changed || d
		changes = append(changes, Change{Resource: r, Prev: cur.version})
		return nil
	}
	for _, r := range items {
		if err := add(r, in.chargeItems[r.ID()]); err != nil {
			return nil, err
		}
	}
	stale, err := staleChargeItems(in, items)
	if err != nil {
		return nil, err
	}
	changed = changed || len(stale) > 0
	changes = append(changes, stale...)
	if err := add(inv, in.invoice); err != nil {
		return nil, err
	}
	if acc.account != nil {
		if err := add(acc.account.Resource, acc.current); err != nil {
			return nil, err
		}
	}
	if acc.stale != nil {
		changed = true
		changes = append(changes, *acc.stale)
	}

	if !changed {
		res.Invoice = in.invoice.res
		for _, r := range items {
			res.ChargeItems = append(res.ChargeItems, in.chargeItems[r.ID()].res)
		}
		return res, nil
	}

	if err := b.records.Commit(ctx, changes); err != nil {
		return nil, fmt.Errorf("store billing of Encounter/%s: %w", in.encID, err)
	}
	res.Changed = true
	return res, b.reread(ctx, in, items, res)
}

// reread reads back, by id, the Invoice and ChargeItems just stored, so
// that the result carries their versions.
func (b *Biller) reread(ctx context.Context, in *inputs, items []*resource.Resource, res *Result) error {
	r, _, err := b.records.Read(ctx, "Invoice", in.invoiceID)
	if err != nil {
		return readError("Invoice", in.invoiceID, err)
	}
	res.Invoice = r
	for _, it := range items {
		r, _, err := b.records.Read(ctx, "ChargeItem", it.ID())
		switch {
		case errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrDeleted):
			r = it // deleted by someone meanwhile: return what was computed
		case err != nil:
			return readError("ChargeItem", it.ID(), err)
		}
		res.ChargeItems = append(res.ChargeItems, r)
	}
	return nil
}

// differs reports whether r would store anything new over cur: it prints
// r with cur's version and time, as the store stamps it, and compares the
// bytes.
func differs(r *resource.Resource, cur stored) (bool, error) {
	if cur.res == nil {
		return true, nil
	}
	c, err := resource.FromProto(proto.Clone(r.Proto()))
	if err != nil {
		return false, err
	}
	meta := cur.res.Meta()
	c.Stamp(cur.version, time.UnixMicro(meta.GetLastUpdated().GetValueUs()))
	a, err := c.Marshal()
	if err != nil {
		return false, err
	}
	bb, err := cur.res.Marshal()
	if err != nil {
		return false, err
	}
	return !bytes.Equal(a, bb), nil
}

// sortChanges orders changes by type and id.
func sortChanges(cs []Change) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i].Resource, cs[j].Resource
		if a.Type() != b.Type() {
			return a.Type() < b.Type()
		}
		return a.ID() < b.ID()
	})
}
