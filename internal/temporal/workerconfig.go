package temporal

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// LoadWorkerConfig reads the worker settings of a process from the
// environment:
//
//	ZINC_TASK_QUEUES           comma-separated queue suffixes, each optionally
//	                           followed by ":concurrency=N" and ":rate=R"
//	                           (activities per second); default defaults
//	ZINC_WORKER_STOP_TIMEOUT   drain time on shutdown (Go duration), default 10s
func LoadWorkerConfig(defaults ...string) (WorkerConfig, error) {
	spec := strings.Join(defaults, ",")
	if v, ok := os.LookupEnv("ZINC_TASK_QUEUES"); ok && strings.TrimSpace(v) != "" {
		spec = v
	}
	cfg := WorkerConfig{StopTimeout: DefaultStopTimeout}
	var err error
	if cfg.Queues, err = ParseQueues(spec); err != nil {
		return WorkerConfig{}, fmt.Errorf("read ZINC_TASK_QUEUES: %w", err)
	}
	if v := os.Getenv("ZINC_WORKER_STOP_TIMEOUT"); v != "" {
		if cfg.StopTimeout, err = time.ParseDuration(v); err != nil || cfg.StopTimeout <= 0 {
			return WorkerConfig{}, fmt.Errorf("read ZINC_WORKER_STOP_TIMEOUT %q: want a positive duration", v)
		}
	}
	return cfg, nil
}

// WithDefaultConcurrency bounds the activities each queue runs at once to n
// where ZINC_TASK_QUEUES set no concurrency: a worker that takes more than
// it can run only queues them while other workers idle.
func (c WorkerConfig) WithDefaultConcurrency(n int) WorkerConfig {
	qs := make([]QueueConfig, len(c.Queues))
	for i, q := range c.Queues {
		if q.MaxConcurrentActivities == 0 {
			q.MaxConcurrentActivities = n
		}
		qs[i] = q
	}
	c.Queues = qs
	return c
}

// ParseQueues parses "pipeline-default,pipeline-exam:concurrency=4:rate=2".
func ParseQueues(spec string) ([]QueueConfig, error) {
	var (
		qs   []QueueConfig
		errs []error
		seen = map[string]bool{}
	)
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		q := QueueConfig{Suffix: strings.TrimSpace(parts[0])}
		switch {
		case q.Suffix == "":
			errs = append(errs, fmt.Errorf("queue %q: empty queue name", item))
		case seen[q.Suffix]:
			errs = append(errs, fmt.Errorf("queue %s: given twice", q.Suffix))
		}
		seen[q.Suffix] = true
		for _, opt := range parts[1:] {
			key, val, _ := strings.Cut(opt, "=")
			switch key {
			case "concurrency":
				n, err := strconv.Atoi(val)
				if err != nil || n < 1 {
					errs = append(errs, fmt.Errorf("queue %s: concurrency %q: want a positive integer", q.Suffix, val))
				}
				q.MaxConcurrentActivities = n
			case "rate":
				r, err := strconv.ParseFloat(val, 64)
				if err != nil || !(r > 0) || math.IsInf(r, 0) {
					errs = append(errs, fmt.Errorf("queue %s: rate %q: want a positive finite number", q.Suffix, val))
				}
				q.ActivitiesPerSecond = r
			default:
				errs = append(errs, fmt.Errorf("queue %s: unknown option %q (want concurrency or rate)", q.Suffix, key))
			}
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		errs = append(errs, errors.New("no task queue given"))
	}
	return qs, errors.Join(errs...)
}
