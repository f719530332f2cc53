// Package cliconfig binds a command's flags and its --config YAML file to one options struct,
// the same way for every wit command. Precedence, lowest first: the struct's values when the
// flags are declared (the defaults), then the YAML file given with --config, then the flags set
// on the command line. A flag left unset never overrides the file, whatever its value.
//
//	cfg := crawl.DefaultConfig()
//	b := cliconfig.New(cmd.Flags(), &cfg, "YAML file of crawl options (configs/crawl.yaml)")
//	b.Int(&cfg.Workers, "workers", "pages fetched at once over all hosts")
//	...
//	RunE: func(...) error { if err := b.Resolve(); err != nil { return err }; ... use cfg }
//
// The YAML keys are the struct's yaml tags; a key the struct does not have, or a value of the
// wrong type, is an error naming the file, the line and the key (LoadFile).
//
// Adding an option: give its struct field a yaml tag (the key in the file; yaml:"-" if it has
// none), then declare its flag once, next to the others, with the method of its type:
// b.Int(&cfg.Field, "flag-name", "help"). The flag's default is the field's value at that moment.
// A flag that sets several fields (wit build's --delay) lists the others after the help; a flag
// with no place in the file (--json) points at a plain variable.
package cliconfig
