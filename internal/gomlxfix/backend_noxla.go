//go:build !xla

package gomlxfix

import (
	"errors"

	"github.com/gomlx/gomlx/backends"
)

// EnvPJRTPlugin names the PJRT plugin to load, by absolute path (only used in `xla` builds).
const EnvPJRTPlugin = "WIT_PJRT_PLUGIN"

// HasXLA reports whether this binary was built with the `xla` tag.
const HasXLA = false

// ErrNoXLA is returned by NewXLA in builds without the `xla` tag.
var ErrNoXLA = errors.New("xla backend: this binary was built without the `xla` build tag (go build -tags xla)")

// NewXLA is only available with the `xla` build tag; default builds are pure Go and never load plugins.
func NewXLA(pluginPath string) (backends.Backend, error) { return nil, ErrNoXLA }
