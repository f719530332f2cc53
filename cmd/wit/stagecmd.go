package main

import (
	"encoding/json"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/witdata/wit/internal/cliconfig"
)

// bindConfig makes cmd a command whose options o come from its flags and --config: it returns
// the Binder on which the caller declares the flags (bound to target, o or a part of it), and sets
// cmd's RunE to resolve them (defaults, then the file, then the flags set) before calling run with
// o. The command takes no arguments.
func bindConfig[O any](cmd *cobra.Command, o O, target any, configHelp string, run func(*cobra.Command, O) error) *cliconfig.Binder {
	b := cliconfig.New(cmd.Flags(), target, configHelp)
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := b.Resolve(); err != nil {
			return err
		}
		return run(cmd, o)
	}
	return b
}

// indentJSON is how a command prints a report or stats as JSON: indented by two spaces, with a
// final newline.
func indentJSON(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// reportStats ends a stage command that ran with error runErr: with --json (asJSON) it prints
// stats as JSON on stdout, otherwise summary (when not nil) writes the human summary to stderr.
// The run's error comes first; an error printing the JSON is returned only when the run succeeded.
func reportStats(runErr error, asJSON bool, stats any, summary func(w io.Writer)) error {
	if !asJSON {
		if summary != nil {
			summary(os.Stderr)
		}
		return runErr
	}
	data, err := indentJSON(stats)
	if err == nil {
		_, err = os.Stdout.Write(data)
	}
	if runErr != nil {
		return runErr
	}
	return err
}
