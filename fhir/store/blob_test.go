package store_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/fhirbill/fhirbill/fhir/resource"
	"github.com/fhirbill/fhirbill/fhir/store/storetest"
)

func TestStore_Blob(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()

	if _, err := st.BlobTime(ctx, "pfs/2025"); !errors.Is(err, resource.ErrNotFound) {
		t.Fatalf("BlobTime of a missing blob: %v, want ErrNotFound", err)
	}
	if _, _, err := st.GetBlob(ctx, "pfs/2025"); !errors.Is(err, resource.ErrNotFound) {
		t.Fatalf("GetBlob of a missing blob: %v, want ErrNotFound", err)
	}

	// Larger than a MongoDB document before compression, as a fee
	// schedule file can be.
	data := bytes.Repeat([]byte("HCPCS,MOD,DESCRIPTION,1.30,1.35,0.10\n"), 600_000)
	t1 := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	if err := st.PutBlob(ctx, "pfs/2025", data, t1); err != nil {
		t.Fatal(err)
	}
	got, at, err := st.GetBlob(ctx, "pfs/2025")
	if err != nil || !bytes.Equal(got, data) || !at.Equal(t1) {
		t.Fatalf("GetBlob: %d bytes at %v, %v; want %d bytes at %v", len(got), at, err, len(data), t1)
	}
	if at, err := st.BlobTime(ctx, "pfs/2025"); err != nil || !at.Equal(t1) {
		t.Fatalf("BlobTime = %v, %v; want %v", at, err, t1)
	}

	// A second import replaces the first.
	t2 := t1.Add(time.Hour)
	if err := st.PutBlob(ctx, "pfs/2025", []byte("new"), t2); err != nil {
		t.Fatal(err)
	}
	got, at, err = st.GetBlob(ctx, "pfs/2025")
	if err != nil || string(got) != "new" || !at.Equal(t2) {
		t.Fatalf("GetBlob after replace: %q at %v, %v", got, at, err)
	}
	if at, err := st.BlobTime(ctx, "pfs/2025"); err != nil || !at.Equal(t2) {
		t.Fatalf("BlobTime after replace = %v, %v; want %v", at, err, t2)
	}
}
