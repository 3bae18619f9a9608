package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeed_Command loads a Bundle of reference data twice through
// `fhirbill seed`: the second load changes nothing. A Bundle with a
// resource without id, or with a request other than PUT to it, is
// refused and stores nothing.
func TestSeed_Command(t *testing.T) {
	t.Setenv("MONGODB_URI", "")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seed := func(file string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), []string{"seed", file, "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn"},
			&out, io.Discard)
		return out.String(), err
	}

	good := write("good.json", `{"resourceType":"Bundle","type":"transaction","entry":[
	  {"resource":{"resourceType":"Organization","id":"payer-a","name":"A"},"request":{"method":"PUT","url":"Organization/payer-a"}},
	  {"resource":{"resourceType":"Organization","id":"payer-b","name":"B"}}]}`)
	if out, err := seed(good); err != nil || !strings.Contains(out, "2 resources: created 2, updated 0, unchanged 0") {
		t.Errorf("first load: %v %s", err, out)
	}
	if out, err := seed(good); err != nil || !strings.Contains(out, "2 resources: created 0, updated 0, unchanged 2") {
		t.Errorf("second load: %v %s", err, out)
	}

	for name, body := range map[string]string{
		"noid.json": `{"resourceType":"Bundle","type":"collection","entry":[
		  {"resource":{"resourceType":"Organization","id":"payer-c","name":"C"}},
		  {"resource":{"resourceType":"Organization","name":"no id"}}]}`,
		"post.json": `{"resourceType":"Bundle","type":"transaction","entry":[
		  {"resource":{"resourceType":"Organization","id":"payer-c","name":"C"},"request":{"method":"POST","url":"Organization"}}]}`,
		"invalid.json": `{"resourceType":"Bundle","type":"transaction","entry":[
		  {"resource":{"resourceType":"Organization","id":"payer-c","name":"C"}},
		  {"resource":{"resourceType":"Organization","id":"payer-d","active":"yes"}}]}`,
	} {
		if out, err := seed(write(name, body)); err == nil {
			t.Errorf("%s was loaded: %s", name, out)
		}
	}
	// None of the refused files stored payer-c.
	if out, err := seed(write("check.json", `{"resourceType":"Bundle","type":"collection","entry":[
	  {"resource":{"resourceType":"Organization","id":"payer-c","name":"C"}}]}`)); err != nil ||
		!strings.Contains(out, "created 1") {
		t.Errorf("payer-c after the refused files: %v %s", err, out)
	}
}
