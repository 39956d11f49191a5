package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Scratch directories hold student code while it is graded. Each worker
// grades under a directory of its own, "zinc-scratch-<pid>-…", holding a
// lock file it keeps flock'ed for its whole life: the kernel drops the lock
// when the process dies, however it dies, so any worker can tell a dead
// worker's directory from a live one's and remove it.
const (
	scratchPrefix = "zinc-scratch-"
	scratchLock   = ".lock"
	// sweepEvery: a worker killed mid-batch leaves its directories behind;
	// the surviving workers remove them within this period, so none
	// outlive the batch.
	sweepEvery = time.Minute
)

// ScratchConfig locates the scratch directories.
type ScratchConfig struct {
	// Dir is the parent of every worker's scratch directory; empty means
	// the system's temporary directory.
	Dir string `env:"ZINC_SCRATCH_DIR"`
}

// Scratch is one worker's scratch area: its own directory under the shared
// parent, locked while the worker lives, and a sweeper removing those of
// dead workers.
type Scratch struct {
	base string
	dir  string
	lock *os.File
	log  *slog.Logger

	stop chan struct{}
	wg   sync.WaitGroup
}

// OpenScratch removes the scratch directories of dead workers under
// cfg.Dir, creates and locks this worker's own, and starts sweeping
// periodically. Close releases it.
func OpenScratch(cfg ScratchConfig, log *slog.Logger) (*Scratch, error) {
	base := cfg.Dir
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("create scratch parent %s: %w", base, err)
	}
	s := &Scratch{base: base, log: log, stop: make(chan struct{})}
	s.sweep()
	// Created under another name and renamed once locked, so a sweep never
	// sees it unlocked.
	tmp, err := os.MkdirTemp(base, "zinc-new-")
	if err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	// Sandboxed commands run as another user: they must traverse it, not
	// list it.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, errors.Join(fmt.Errorf("open scratch directory: %w", err), os.RemoveAll(tmp))
	}
	lock, err := lockDir(tmp, false)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("lock scratch directory: %w", err), os.RemoveAll(tmp))
	}
	dir := filepath.Join(base, scratchPrefix+strconv.Itoa(os.Getpid())+"-"+filepath.Base(tmp)[len("zinc-new-"):])
	if err := os.Rename(tmp, dir); err != nil {
		return nil, errors.Join(fmt.Errorf("open scratch directory: %w", err), lock.Close(), os.RemoveAll(tmp))
	}
	s.dir, s.lock = dir, lock
	s.wg.Add(1)
	go s.sweepPeriodically()
	return s, nil
}

// Dir is this worker's scratch directory.
func (s *Scratch) Dir() string { return s.dir }

// Close stops sweeping and removes this worker's scratch directory.
func (s *Scratch) Close() error {
	close(s.stop)
	s.wg.Wait()
	err := os.RemoveAll(s.dir)
	return errors.Join(err, s.lock.Close())
}

func (s *Scratch) sweepPeriodically() {
	defer s.wg.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes every scratch directory under base whose lock nobody holds.
func (s *Scratch) sweep() {
	removed, err := SweepScratch(s.base, s.dir)
	for _, d := range removed {
		s.log.InfoContext(context.Background(), "scratch directory of a dead worker removed", "dir", d)
	}
	if err != nil {
		s.log.WarnContext(context.Background(), "scratch sweep incomplete", "dir", s.base, "err", err)
	}
}

// SweepScratch removes the scratch directories under base that belong to
// no live worker (their lock file is not held), except keep, and returns
// those it removed.
func SweepScratch(base, keep string) ([]string, error) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, fmt.Errorf("list scratch parent %s: %w", base, err)
	}
	var (
		removed []string
		errs    []error
	)
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		if !e.IsDir() || dir == keep || len(e.Name()) <= len(scratchPrefix) || e.Name()[:len(scratchPrefix)] != scratchPrefix {
			continue
		}
		lock, err := lockDir(dir, true)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			continue // a live worker's
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		// Locked by us now, or without a lock file (not ours to judge: it
		// is only renamed into place once locked, so its worker is gone).
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
		} else {
			removed = append(removed, dir)
		}
		if lock != nil {
			_ = lock.Close()
		}
	}
	return removed, errors.Join(errs...)
}

// lockDir takes an exclusive flock on dir's lock file, creating the file
// unless existing is set; it fails with EWOULDBLOCK when another process
// holds it.
func lockDir(dir string, existing bool) (*os.File, error) {
	flags := os.O_RDWR
	if !existing {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(filepath.Join(dir, scratchLock), flags, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}
