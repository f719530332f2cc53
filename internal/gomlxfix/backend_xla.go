//go:build xla

package gomlxfix

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// EnvPJRTPlugin names the PJRT plugin to load, by absolute path, e.g. the xla_cuda_plugin.so shipped in
// the jax-cuda13-pjrt Python wheel.
const EnvPJRTPlugin = "WIT_PJRT_PLUGIN"

// HasXLA reports whether this binary was built with the `xla` tag.
const HasXLA = true

// NewXLA creates GoMLX's XLA backend from a PJRT plugin given by absolute path (pluginPath, or
// $WIT_PJRT_PLUGIN when empty). Auto-install is switched off first: GoMLX's xla package reads
// GOMLX_NO_AUTO_INSTALL in its own init, which runs before ours, so the env var alone is not enough.
func NewXLA(pluginPath string) (backends.Backend, error) {
	if pluginPath == "" {
		pluginPath = os.Getenv(EnvPJRTPlugin)
	}
	if pluginPath == "" {
		return nil, fmt.Errorf("xla backend: no PJRT plugin: pass its absolute path or set $%s", EnvPJRTPlugin)
	}
	if !filepath.IsAbs(pluginPath) {
		return nil, fmt.Errorf("xla backend: PJRT plugin path %q must be absolute", pluginPath)
	}
	if _, err := os.Stat(pluginPath); err != nil {
		return nil, fmt.Errorf("xla backend: %w", err)
	}
	xla.EnableAutoInstall(false)
	b, err := xla.New(pluginPath)
	if err != nil {
		return nil, fmt.Errorf("xla backend %s: %w", pluginPath, err)
	}
	return b, nil
}
