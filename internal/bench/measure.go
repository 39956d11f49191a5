package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// sampleEvery is how often the sampler reads memory. A phase lasts seconds,
// so a peak shorter than this is the only thing it can miss.
const sampleEvery = 50 * time.Millisecond

// sampler records peak memory in the background until stop.
type sampler struct {
	mu    sync.Mutex
	peak  Memory
	quit  chan struct{}
	done  chan struct{}
	reads []metrics.Sample
}

func startSampler() *sampler {
	s := &sampler{
		quit: make(chan struct{}),
		done: make(chan struct{}),
		reads: []metrics.Sample{
			{Name: "/memory/classes/total:bytes"},
			{Name: "/memory/classes/heap/released:bytes"},
			{Name: "/memory/classes/heap/objects:bytes"},
		},
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	metrics.Read(s.reads)
	goHeld := s.reads[0].Value.Uint64() - s.reads[1].Value.Uint64()
	heap := s.reads[2].Value.Uint64()
	rss := residentBytes()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.PeakRSS = max(s.peak.PeakRSS, rss)
	s.peak.PeakGo = max(s.peak.PeakGo, goHeld)
	s.peak.PeakHeap = max(s.peak.PeakHeap, heap)
}

// reset returns the peaks since the previous reset and starts over.
func (s *sampler) reset() Memory {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.peak
	s.peak = Memory{}
	return m
}

func (s *sampler) stop() {
	close(s.quit)
	<-s.done
}

// residentBytes is the process's current RSS from /proc/self/statm, or 0
// where there is no such file.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// usage is a snapshot of the process's resource use and of the machine's.
type usage struct {
	self, children time.Duration
	maxRSS         uint64
	// machine is the busy time of all CPUs (not idle, not waiting for I/O)
	// since boot; 0 where /proc/stat is missing.
	machine time.Duration
}

// userHZ is the unit of /proc/stat: USER_HZ is 100 on every Linux ABI Go
// supports.
const userHZ = 100

// machineBusy is the busy time of all CPUs since boot, from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	return parseBusy(b)
}

// parseBusy sums the busy columns of /proc/stat's first ("cpu") line, or
// returns 0 when the text is not /proc/stat.
func parseBusy(b []byte) time.Duration {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0
		}
		// Columns: user nice system idle iowait irq softirq steal guest
		// guest_nice; guest time is already counted in user.
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / userHZ
}

func readUsage() (usage, error) {
	var self, children syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return usage{}, fmt.Errorf("read resource usage: %w", err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children); err != nil {
		return usage{}, fmt.Errorf("read resource usage of children: %w", err)
	}
	cpu := func(r syscall.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	// Linux reports ru_maxrss in KiB.
	return usage{self: cpu(self), children: cpu(children), maxRSS: uint64(self.Maxrss) * 1024, machine: machineBusy()}, nil
}

// loadAverage returns the three load averages of /proc/loadavg, or
// "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := bytes.Fields(b)
	if len(f) < 3 {
		return "unknown"
	}
	return string(bytes.Join(f[:3], []byte(" ")))
}

// historyOf follows a batch's continue-as-new chain from its first run and
// counts the events of each run with GetWorkflowHistory; the size of each
// run is the server's own figure from DescribeWorkflowExecution.
func historyOf(ctx context.Context, c client.Client, workflowID, firstRunID string) (History, error) {
	var h History
	for run := firstRunID; run != ""; {
		var (
			events int
			next   string
		)
		it := c.GetWorkflowHistory(ctx, workflowID, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return History{}, fmt.Errorf("read history of %s run %s: %w", workflowID, run, err)
			}
			events++
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		desc, err := c.DescribeWorkflowExecution(ctx, workflowID, run)
		if err != nil {
			return History{}, fmt.Errorf("describe %s run %s: %w", workflowID, run, err)
		}
		h.Add(events, desc.GetWorkflowExecutionInfo().GetHistorySizeBytes())
		run = next
	}
	return h, nil
}
