package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const defaultParams = "_pragma=busy_timeout%2810000%29&_pragma=journal_mode%28WAL%29" +
	"&_pragma=foreign_keys%281%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate"

func TestSQLiteDSN(t *testing.T) {
	tests := []struct {
		name    string
		giveURL string
		wantDSN string
	}{
		{name: "absolute", giveURL: "sqlite:///data/zinc.db", wantDSN: "file:/data/zinc.db?" + defaultParams},
		{name: "relative", giveURL: "sqlite:zinc.db", wantDSN: "file:zinc.db?" + defaultParams},
		{name: "relative with slashes", giveURL: "sqlite://data/zinc.db", wantDSN: "file:data/zinc.db?" + defaultParams},
		{name: "escaped", giveURL: "sqlite:///d/a%3Fb%25c.db", wantDSN: "file:/d/a%3Fb%25c.db?" + defaultParams},
		{name: "file URI kept", giveURL: "file:/data/zinc.db", wantDSN: "file:/data/zinc.db?" + defaultParams},
		{
			name:    "own pragma and txlock win",
			giveURL: "file:/z.db?_pragma=busy_timeout(50)&_pragma=JOURNAL_MODE=DELETE&_txlock=deferred&mode=rwc",
			wantDSN: "file:/z.db?_pragma=busy_timeout%2850%29&_pragma=JOURNAL_MODE%3DDELETE" +
				"&_pragma=foreign_keys%281%29&_pragma=synchronous%28NORMAL%29&_txlock=deferred&mode=rwc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqliteDSN(tt.giveURL)

			require.NoError(t, err)
			assert.Equal(t, tt.wantDSN, got)
		})
	}
}

func TestSQLiteDSNRejects(t *testing.T) {
	tests := []struct {
		name    string
		giveURL string
	}{
		{name: "no path", giveURL: "sqlite:"},
		{name: "bad escape", giveURL: "sqlite:///a%zz.db"},
		{name: "bad query", giveURL: "sqlite:///a.db?x=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sqliteDSN(tt.giveURL)

			assert.Error(t, err)
		})
	}
}
