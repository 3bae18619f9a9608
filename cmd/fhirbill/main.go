// Command fhirbill is a FHIR R4 medical billing server.
//
// Usage:
//
//	fhirbill demo [--listen ADDR] [--data-dir DIR] [--reset]
//	fhirbill serve [flags]
//	fhirbill import pfs --year 2025 --dir DIR
//	fhirbill seed FILE...
//	fhirbill sync --ehr-config FILE --ehr NAME
//	fhirbill report
//	fhirbill testehr --bundles DIR
//	fhirbill token --client-id ID --key-file KEY [--scope SCOPES]
//	fhirbill launch-token --auth-config FILE --patient ID [--scope SCOPES]
//	fhirbill loadgen [--base-url URL] [-n N] [-d DURATION] [-c N] [--mix ...]
//	fhirbill version (or --version)
//
// Every flag has an environment variable; `fhirbill serve --help` lists
// them. Only this package reads flags and the environment.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// cli is the command line: one struct gives each flag its default, help
// and environment variable.
type cli struct {
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`

	Demo    demoCmd        `cmd:"" help:"Try fhirbill: a test EHR with sample patients, pulled, billed and claimed, then served with SMART authorization on; start here."`
	Serve   serveCmd       `cmd:"" help:"Run the FHIR server."`
	Import  importCmd      `cmd:"" help:"Load reference data into the store."`
	Seed    seedCmd        `cmd:"" help:"Store the resources of FHIR Bundles of reference data (price lists, payers, ConceptMaps)."`
	Sync    syncCmd        `cmd:"" help:"Pull new Encounters (and what they reference) from a connected EHR once."`
	Report  reportCmd      `cmd:"" help:"Print what billing made of a store: encounters billed, lines priced and unpriced, totals per payer."`
	Testehr testehrCmd     `cmd:"" name:"testehr" help:"Run a test EHR on FHIR Bundles, for trying EHR pulls."`
	Token   tokenCmd       `cmd:"" help:"Get an access token from a running server's built-in token endpoint as a registered backend client, and print it."`
	Launch  launchTokenCmd `cmd:"" name:"launch-token" help:"Sign, with the configured signing key, the token a SMART launch would give an app for a patient, and print it."`
	Loadgen loadgenCmd     `cmd:"" name:"loadgen" help:"Seed a fhirbill server on this machine and measure it under a mix of requests."`
	Version versionCmd     `cmd:"" help:"Print the version (as --version does)."`
}

// versionCmd is `fhirbill version`.
type versionCmd struct{}

// Run prints the version.
func (versionCmd) Run(stdout io.Writer) error {
	_, err := fmt.Fprintf(stdout, "fhirbill %s\n", version)
	return err
}

// importCmd groups the import subcommands.
type importCmd struct {
	PFS importPFSCmd `cmd:"" name:"pfs" help:"Load a year of the CMS Medicare Physician Fee Schedule (PPRRVU, GPCI and county files)."`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fhirbill:", err)
		os.Exit(1) // stop is moot once the process exits
	}
}

// errExit carries the status kong asks for after --help.
type errExit int

func (e errExit) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// run parses args and runs the chosen command until ctx ends. serve logs
// to stdout as JSON; the commands that print for people log to stderr,
// where usage errors go too.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("fhirbill"),
		kong.Description("fhirbill: a FHIR R4 medical billing server."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(errExit(code)) }),
		kong.UsageOnError(),
		kong.Vars{"loadgen_mix": defaultMix, "version": "fhirbill " + version},
	)
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(errExit)
			if !ok {
				panic(r)
			}
			if code != 0 {
				err = errors.New("invalid command line")
			}
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		return err
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	kctx.BindTo(stdout, (*io.Writer)(nil))
	kctx.Bind(logOutput{stderr})
	return kctx.Run()
}

// logOutput is stderr, where the commands whose stdout is for people
// (sync, seed, report, import, testehr) write their JSON logs.
type logOutput struct{ io.Writer }
