package sandbox

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCaptureKeepsFirstBytes(t *testing.T) {
	tests := []struct {
		name          string
		giveWrites    []string
		giveLimit     int64
		wantData      string
		wantTruncated bool
	}{
		{name: "below limit", giveWrites: []string{"ab", "c"}, giveLimit: 4, wantData: "abc"},
		{name: "exactly limit", giveWrites: []string{"ab", "cd"}, giveLimit: 4, wantData: "abcd"},
		{name: "over limit in one write", giveWrites: []string{"abcdef"}, giveLimit: 4, wantData: "abcd", wantTruncated: true},
		{name: "over limit across writes", giveWrites: []string{"abc", "def", "g"}, giveLimit: 4, wantData: "abcd", wantTruncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCapture(tt.giveLimit, func() { t.Error("flood reported") })
			for _, w := range tt.giveWrites {
				n, err := c.Write([]byte(w))
				assert.NoError(t, err)
				assert.Equal(t, len(w), n, "a write is never refused")
			}
			data, truncated, flooded := c.result()
			assert.Equal(t, tt.wantData, string(data))
			assert.Equal(t, tt.wantTruncated, truncated)
			assert.False(t, flooded)
		})
	}
}

func TestCaptureReportsFloodOnce(t *testing.T) {
	calls := 0
	c := newCapture(10, func() { calls++ })
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for range 40 {
		_, _ = c.Write(chunk)
	}
	data, truncated, flooded := c.result()
	assert.Len(t, data, 10)
	assert.True(t, truncated)
	assert.True(t, flooded)
	assert.Equal(t, 1, calls)
}
