package store

import "database/sql"

// DB exposes the store's handle to tests that place rows the public API
// cannot, such as rows sharing a timestamp.
func (s *Store) DB() *sql.DB { return s.db }
