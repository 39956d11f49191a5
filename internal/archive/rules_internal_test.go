package archive

import (
	"io"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCleanNameCanonicalForms(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "main.c", want: "main.c"},
		{give: "./main.c", want: "main.c"},
		{give: "src//lib/./x.h", want: "src/lib/x.h"},
		{give: "dir/", want: "dir"},
		{give: "..hidden/...", want: "..hidden/..."},
		{give: "ünïcode/файл.txt", want: "ünïcode/файл.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := cleanName(tt.give)

			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestIsRootDir(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{give: "./", want: true},
		{give: ".", want: true},
		{give: ".//./", want: true},
		{give: "", want: false},
		{give: "../", want: false},
		{give: "a/", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, isRootDir(tt.give))
		})
	}
}

func TestCapReaderEndsAtCapWithEOF(t *testing.T) {
	data, err := io.ReadAll(newCapReader(strings.NewReader("12345"), 5))

	require.NoError(t, err)
	assert.Equal(t, "12345", string(data))
}

func TestCapReaderFailsBeyondCap(t *testing.T) {
	_, err := io.ReadAll(newCapReader(strings.NewReader("123456"), 5))

	require.ErrorIs(t, err, ErrTooLarge)
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a", "../a", "./a/b/", "/abs", "a/../b", `a\b`, "C:x", ".", "a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := cleanName(raw)
		if err != nil {
			return
		}
		if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name {
			t.Fatalf("cleanName(%q) = %q: not canonical and relative", raw, name)
		}
		for el := range strings.SplitSeq(name, "/") {
			if el == ".." || el == "." || el == "" {
				t.Fatalf("cleanName(%q) = %q: bad element %q", raw, name, el)
			}
		}
	})
}
