package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Environment variables and the config file the command line reads.
const (
	EnvAPIURL = "ZINC_API_URL"
	EnvToken  = "ZINC_TOKEN"
	// EnvConfig names the config file; default $XDG_CONFIG_HOME/zinc/config.yaml.
	EnvConfig = "ZINC_CONFIG"
)

// Settings say which API to call with which credential.
type Settings struct {
	APIURL string `yaml:"api_url"`
	Token  string `yaml:"token"`
}

// loadSettings reads the config file (when it exists), then lets the
// environment override each field.
func loadSettings(getenv func(string) string) (Settings, error) {
	var s Settings
	path := getenv(EnvConfig)
	if path == "" {
		dir, err := os.UserConfigDir()
		if err == nil {
			path = filepath.Join(dir, "zinc", "config.yaml")
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return Settings{}, fmt.Errorf("read config file: %w", err)
		default:
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(&s); err != nil && len(data) > 0 {
				return Settings{}, fmt.Errorf("parse config file %s: %w", path, err)
			}
		}
	}
	if v := getenv(EnvAPIURL); v != "" {
		s.APIURL = v
	}
	if v := getenv(EnvToken); v != "" {
		s.Token = v
	}
	if s.APIURL == "" {
		return Settings{}, fmt.Errorf("no API address: set %s (and %s) or api_url in %s", EnvAPIURL, EnvToken, path)
	}
	return s, nil
}
