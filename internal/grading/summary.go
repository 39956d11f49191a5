package grading

import "unicode/utf8"

// MaxListedFailures bounds how many failures a Summary lists, so the summary
// of a very large batch stays small in workflow history.
const MaxListedFailures = 100

// Outcome is what grading one delivery reports back to a batch: identifiers
// and numbers only, never output or files.
type Outcome struct {
	DeliveryID string       `json:"delivery_id"`
	User       string       `json:"user"`
	Status     ResultStatus `json:"status"`
	Score      float64      `json:"score"`
	MaxScore   float64      `json:"max_score"`
	Reason     string       `json:"reason,omitempty"`
	DurationMS int64        `json:"duration_ms,omitempty"`
	// QueueWaitMS is how long the work waited in its task queue before a
	// worker picked it up (schedule-to-start).
	QueueWaitMS int64 `json:"queue_wait_ms,omitempty"`
}

// Outcome returns what the batch needs to know of the stored result r; the
// caller adds the timings it measured.
func (r Result) Outcome() Outcome {
	return Outcome{DeliveryID: r.DeliveryID, User: r.User, Status: r.Status, Score: r.Score, MaxScore: r.MaxScore, Reason: r.Diagnostic}
}

// Failure names a delivery that was not graded and why.
type Failure struct {
	DeliveryID string       `json:"delivery_id"`
	User       string       `json:"user"`
	Status     ResultStatus `json:"status"`
	Reason     string       `json:"reason"`
}

// Counts are the number of deliveries per result status.
type Counts struct {
	Graded   int `json:"graded"`
	Ungraded int `json:"ungraded"`
	Error    int `json:"error"`
}

// Summary aggregates the outcomes of a batch. Score statistics cover graded
// deliveries only: an ungraded delivery has no score, not a score of 0.
type Summary struct {
	Total           int       `json:"total"`
	Counts          Counts    `json:"counts"`
	MeanScore       float64   `json:"mean_score"`
	MinScore        float64   `json:"min_score"`
	MaxScore        float64   `json:"max_score"`
	ScoreSum        float64   `json:"score_sum"`
	MaxPossible     float64   `json:"max_possible"`
	Failures        []Failure `json:"failures"`
	FailuresOmitted int       `json:"failures_omitted,omitempty"`
	// Rate is how fast the batch went, recorded when it ended so a finished
	// batch still shows it.
	Rate *Rate `json:"rate,omitempty"`
}

// Rate is a finished batch's throughput and latency figures.
type Rate struct {
	PerSecond      float64 `json:"per_second"`
	DurationP50MS  float64 `json:"duration_p50_ms"`
	DurationP95MS  float64 `json:"duration_p95_ms"`
	QueueWaitP50MS float64 `json:"queue_wait_p50_ms"`
	QueueWaitP95MS float64 `json:"queue_wait_p95_ms"`
}

// Add folds one outcome into the summary.
func (s *Summary) Add(o Outcome) {
	s.Total++
	switch o.Status {
	case StatusGraded:
		s.Counts.Graded++
		if s.Counts.Graded == 1 || o.Score < s.MinScore {
			s.MinScore = o.Score
		}
		if s.Counts.Graded == 1 || o.Score > s.MaxScore {
			s.MaxScore = o.Score
		}
		s.ScoreSum += o.Score
		s.MeanScore = s.ScoreSum / float64(s.Counts.Graded)
		if o.MaxScore > s.MaxPossible {
			s.MaxPossible = o.MaxScore
		}
		return
	case StatusUngraded:
		s.Counts.Ungraded++
	default:
		s.Counts.Error++
	}
	if len(s.Failures) >= MaxListedFailures {
		s.FailuresOmitted++
		return
	}
	s.Failures = append(s.Failures, Failure{DeliveryID: o.DeliveryID, User: o.User, Status: o.Status, Reason: ShortReason(o.Reason)})
}

// MaxReasonLen bounds a failure reason shown in a summary, in bytes.
const MaxReasonLen = 200

// ShortReason keeps a failure reason readable: at most MaxReasonLen bytes,
// cut at a rune boundary and marked with an ellipsis. Reasons are meant to
// say what failed; the full error chain belongs in the logs.
func ShortReason(reason string) string {
	if len(reason) <= MaxReasonLen {
		return reason
	}
	cut := MaxReasonLen - len("…")
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "…"
}

// Failed is the number of deliveries that did not get a score.
func (s *Summary) Failed() int { return s.Counts.Ungraded + s.Counts.Error }

// Merge folds another summary, such as one partition's, into s.
func (s *Summary) Merge(o Summary) {
	if o.Counts.Graded > 0 {
		if s.Counts.Graded == 0 || o.MinScore < s.MinScore {
			s.MinScore = o.MinScore
		}
		if s.Counts.Graded == 0 || o.MaxScore > s.MaxScore {
			s.MaxScore = o.MaxScore
		}
	}
	s.Total += o.Total
	s.Counts.Graded += o.Counts.Graded
	s.Counts.Ungraded += o.Counts.Ungraded
	s.Counts.Error += o.Counts.Error
	s.ScoreSum += o.ScoreSum
	if s.Counts.Graded > 0 {
		s.MeanScore = s.ScoreSum / float64(s.Counts.Graded)
	}
	s.MaxPossible = max(s.MaxPossible, o.MaxPossible)
	room := max(MaxListedFailures-len(s.Failures), 0)
	kept := o.Failures[:min(room, len(o.Failures))]
	s.Failures = append(s.Failures, kept...)
	s.FailuresOmitted += o.FailuresOmitted + len(o.Failures) - len(kept)
}
