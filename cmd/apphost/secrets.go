package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// adminKeyFile holds the local admin API key inside the data directory.
const adminKeyFile = "admin.key"

// localAdminKey returns the local admin API key, creating it (readable by
// the owner only) at the first start so later starts keep it.
func localAdminKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, adminKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if !auth.IsKey(key) {
			return "", fmt.Errorf("read admin key: %s does not hold a ZINC API key; remove it to make a new one", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read admin key: %w", err)
	}
	key, _, err := auth.NewKey()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin key: %w", err)
	}
	return key, nil
}

// codecKeyFile holds the payload codec's keys inside the data directory.
const codecKeyFile = "codec.keys"

// localCodecKeys returns the path of the payload codec's key file, creating
// it with one new key at the first start; ZINC_CODEC_KEY_FILE, when set,
// names the file to use instead.
func localCodecKeys(dataDir string) (string, error) {
	if path := os.Getenv("ZINC_CODEC_KEY_FILE"); path != "" {
		return path, nil
	}
	path := filepath.Join(dataDir, codecKeyFile)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("check codec keys: %w", err)
	}
	line, err := temporal.NewCodecKey("local-1")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write codec keys: %w", err)
	}
	return path, nil
}
