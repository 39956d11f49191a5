package syncio_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zinc-edu/orchestrator/internal/syncio"
)

func TestBufferTakesConcurrentWrites(t *testing.T) {
	var b syncio.Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, _ = fmt.Fprintf(&b, "%d\n", i)
			_ = b.String()
		})
	}
	wg.Wait()
	assert.Len(t, b.String(), 20)
	got := b.Bytes()
	got[0] = 'x'
	assert.NotEqual(t, byte('x'), b.Bytes()[0], "Bytes returns a copy")
}
