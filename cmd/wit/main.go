// Command wit builds CLIP-style image–text datasets from the web and trains CLIP on them.
//
// Each stage is a subcommand (crawl, filter, fetch, build, train, eval, ...) registered by its own
// file in this package; the files hold only flags and wiring, the logic lives in the stage packages.
// Every stage command declares its flags once through internal/cliconfig, which also reads its
// --config YAML file (defaults < file < flags set on the command line); xCommand(run) builds the
// command and hands run the resolved options, so tests can check them without running the stage.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

var logLevel string

var rootCmd = &cobra.Command{
	Use:   "wit",
	Short: "Build CLIP-style web image–text datasets and train CLIP on them",
	Long: `wit crawls web pages for (image, caption) pairs, filters them against a query list
(English, balanced per query, deduplicated), downloads the images into Arrow shards and trains a
CLIP model on them.

Stages (each runs alone from files, or chained by "wit build"):
  crawl      seed list -> candidate (image URL, caption) pairs (Arrow files)
  cc         Common Crawl WARC/WAT files (or a crawl's WARC archive) -> the same pair files
  filter     pairs -> English pairs that match the query list, balanced per query
  fetch      filtered pairs or URL lists -> image shards (Arrow IPC)
  build      crawl -> filter -> fetch in one streaming process
  train      shards -> CLIP checkpoints
  eval       zero-shot classification and retrieval`,
	Version:       version,
	SilenceUsage:  true,
	SilenceErrors: true,
	PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
		var level slog.Level
		if err := level.UnmarshalText([]byte(logLevel)); err != nil {
			return fmt.Errorf("--log-level %q: %w", logLevel, err)
		}
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
		return nil
	},
}

func init() {
	rootCmd.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log verbosity: debug, info, warn or error")
}

func main() {
	// The first SIGINT/SIGTERM cancels the context so stages finish in-flight work and commit
	// their state; a second one kills the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := rootCmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wit:", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}
