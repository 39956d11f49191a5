package supervise

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Status is the content of a child's status file (see WithStatusDir).
type Status struct {
	Name     string    `json:"name"`
	PID      int       `json:"pid"`
	Restarts int       `json:"restarts"`
	State    string    `json:"state"`
	Updated  time.Time `json:"updated"`
}

// ReadStatus reads the status file of child name from dir.
func ReadStatus(dir, name string) (Status, error) {
	var s Status
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return s, fmt.Errorf("read status of %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode status of %s: %w", name, err)
	}
	return s, nil
}

// writeStatusLocked replaces name's status file, unless p is no longer its
// latest run (a late "exited" from a run already replaced by a restart). A
// failure is logged once per write and otherwise ignored: the status files
// are for other programs, never a reason to stop a child. The caller holds
// g.mu.
func (g *Group) writeStatusLocked(name string, p *Process, restarts int, state string) {
	if g.statusDir == "" {
		return
	}
	for i := len(g.procs) - 1; i >= 0; i-- {
		if g.procs[i].name == name {
			if g.procs[i] != p {
				return
			}
			break
		}
	}
	b, err := json.Marshal(Status{Name: name, PID: p.Pid(), Restarts: restarts, State: state, Updated: time.Now().UTC()})
	if err == nil {
		err = writeAtomic(filepath.Join(g.statusDir, name+".json"), b)
	}
	if err != nil {
		g.logger.Warn("write status file failed", "process", name, "err", err)
	}
}

// writeAtomic writes b to path through a temporary file and a rename, so a
// reader never sees half a file.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".status-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
