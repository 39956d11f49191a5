package api

import (
	"fmt"
	"net/http"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// extensionConfiguration serves the Temporal settings every extension
// shares; TLS material and credentials stay local to each process.
func (s *Server) extensionConfiguration(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	// The components that may ask core for their Temporal settings (RFD
	// 0010, "Extension Configuration Distribution").
	switch name {
	case "core", "submission", "pipeline":
	default:
		return fmt.Errorf("extension %q: %w", name, grading.ErrNotFound)
	}
	return writeJSON(w, http.StatusOK, s.temporal)
}
