//go:build linux

package sandbox

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// realDir checks that dir is an existing absolute directory and resolves
// symbolic links, so that the container mounts its real path.
func realDir(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%w: directory %q is not absolute", ErrInvalidSpec, dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("%w: directory: %w", ErrInvalidSpec, err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%w: directory: %w", ErrInvalidSpec, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%w: %q is not a directory", ErrInvalidSpec, dir)
	}
	return real, nil
}

// chownTree gives the scratch tree to the sandbox user. Symbolic links
// are changed, never followed: an earlier command may have planted one.
func chownTree(dir string, uid, gid int) error {
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("hand scratch directory to sandbox user: %w", err)
	}
	return nil
}

// within returns path relative to base when path is base or below it
// (filepath.Rel cleans both); "..foo" is a name inside base, ".." is not.
func within(base, path string) (string, bool) {
	rel, err := filepath.Rel(base, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}
