//go:build !linux

package sandbox

// SealRootFS fails: image roots rely on Linux ownership and mount rules.
func SealRootFS(string) error { return errUnsupported }
