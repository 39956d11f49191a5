package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/spreadsheet"
	"github.com/zinc-edu/orchestrator/workflows"
)

// watchInterval is how often --watch polls the batch.
const watchInterval = time.Second

func (a *app) batchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "batch", Short: "Start, watch, steer and read grading batches"}
	cmd.AddCommand(a.batchStart(), a.batchStatus(), a.batchResults(), a.batchConcurrency())
	for _, c := range []struct{ use, action, short, done string }{
		{"pause", "pause", "Pause a running batch (deliveries in flight finish)", "paused"},
		{"resume", "resume", "Resume a paused batch", "resumed"},
		{"cancel", "cancel", "Cancel a running batch", "cancel requested"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: c.use + " ID", Short: c.short, Args: exactArgs(1, "a batch ID"),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, err := a.client()
				if err != nil {
					return err
				}
				if err := cl.Control(cmd.Context(), args[0], c.action); err != nil {
					return fail(fmt.Errorf("%s batch %s: %w", c.action, args[0], err))
				}
				_, _ = fmt.Fprintf(a.env.Stdout, "batch %s %s\n", args[0], c.done)
				return nil
			},
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use: "regrade-failed ID", Short: "Grade again, as a new batch, the deliveries a finished batch did not grade",
		Args: exactArgs(1, "a batch ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			b, err := cl.RegradeFailed(cmd.Context(), args[0])
			if err != nil {
				return fail(fmt.Errorf("regrade failures of batch %s: %w", args[0], err))
			}
			_, _ = fmt.Fprintln(a.env.Stdout, b.ID)
			return nil
		},
	})
	return cmd
}

func (a *app) batchStart() *cobra.Command {
	var (
		req   StartBatchRequest
		watch bool
	)
	cmd := &cobra.Command{
		Use:   "start --collection ID --config ID [--deliveries all] [--watch]",
		Short: "Start grading a collection with a config; prints the batch id",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.CollectionID == "" || req.ConfigID == "" {
				return usage("--collection and --config are required")
			}
			if !grading.ValidDeliveries(req.Deliveries) {
				return usage("--deliveries %q: want %s or %s", req.Deliveries, grading.DeliveriesLatest, grading.DeliveriesAll)
			}
			// 0 stands for "not given" in the request: a given value is
			// checked here, or --concurrency 0 would start a batch with the
			// service's default.
			if cmd.Flags().Changed("concurrency") && workflows.CheckConcurrency(req.Concurrency) != nil {
				return usage("--concurrency %d: want 1..%d", req.Concurrency, workflows.MaxConcurrency)
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			b, err := cl.StartBatch(cmd.Context(), req)
			if err != nil {
				return fail(fmt.Errorf("start batch: %w", err))
			}
			_, _ = fmt.Fprintln(a.env.Stdout, b.ID)
			if !watch {
				return nil
			}
			v, err := a.watch(cmd.Context(), cl, b.ID)
			if err != nil {
				return fail(err)
			}
			// The bar clears itself; say how the batch ended where it was,
			// keeping stdout to the batch id.
			printStatus(a.env.Stderr, v)
			return a.finished(v)
		},
	}
	cmd.Flags().StringVar(&req.CollectionID, "collection", "", "collection `ID` (required)")
	cmd.Flags().StringVar(&req.ConfigID, "config", "", "grading config `ID` (required)")
	cmd.Flags().IntVar(&req.Concurrency, "concurrency", 0, "deliveries graded at once (default: the service's)")
	cmd.Flags().StringVar(&req.Lane, "lane", "", "pipeline lane, such as pipeline-exam")
	cmd.Flags().StringVar(&req.Deliveries, "deliveries", "", "latest (each user's newest delivery, the default) or all (every version)")
	cmd.Flags().BoolVar(&watch, "watch", false, "show a live progress bar until the batch ends")
	return cmd
}

func (a *app) batchStatus() *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a batch's status and progress (exit 3 when it finished with failures)",
		Args:  exactArgs(1, "a batch ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			var v BatchView
			if watch {
				v, err = a.watch(cmd.Context(), cl, args[0])
			} else {
				v, err = cl.Batch(cmd.Context(), args[0])
			}
			if err != nil {
				return fail(fmt.Errorf("read batch %s: %w", args[0], err))
			}
			printStatus(a.env.Stdout, v)
			if v.Status == grading.BatchRunning {
				return nil
			}
			return a.finished(v)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "show a live progress bar until the batch ends")
	return cmd
}

func (a *app) batchConcurrency() *cobra.Command {
	return &cobra.Command{
		Use:   "concurrency ID N",
		Short: "Change how many deliveries a running batch grades at once",
		Args:  exactArgs(2, "a batch ID and a number"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return usage("concurrency %q is not a number", args[1])
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.SetConcurrency(cmd.Context(), args[0], n); err != nil {
				return fail(fmt.Errorf("set concurrency of batch %s: %w", args[0], err))
			}
			_, _ = fmt.Fprintf(a.env.Stdout, "batch %s concurrency %d\n", args[0], n)
			return nil
		},
	}
}

// finished turns a finished batch into the exit code: failures (deliveries
// without a grade) give 3, a failed or cancelled batch 1.
func (a *app) finished(v BatchView) error {
	switch v.Status {
	case grading.BatchCompleted:
		if v.Progress.Failed > 0 || (v.Summary != nil && v.Summary.Failed() > 0) {
			return &exitError{code: ExitFailures, err: errQuiet}
		}
		return nil
	case grading.BatchRunning:
		return nil
	}
	return fail(fmt.Errorf("batch %s %s", v.ID, v.Status))
}

func printStatus(w io.Writer, v BatchView) {
	p := v.Progress
	status := string(v.Status)
	if p.Paused {
		status += " (paused)"
	}
	_, _ = fmt.Fprintf(w, "batch %s: %s\n", v.ID, status)
	_, _ = fmt.Fprintf(w, "progress: %d/%d done, %d failed, %d in flight\n", p.Done, p.Total, p.Failed, p.InFlight)
	if v.Status == grading.BatchRunning {
		_, _ = fmt.Fprintf(w, "rate: %.2f/s, eta: %s, concurrency: %d\n", p.PerSecond, etaString(p.ETASeconds), p.Concurrency)
	}
	if s := v.Summary; s != nil {
		_, _ = fmt.Fprintf(w, "graded: %d, ungraded: %d, error: %d, mean score: %.2f\n", s.Counts.Graded, s.Counts.Ungraded, s.Counts.Error, s.MeanScore)
		for _, f := range s.Failures {
			_, _ = fmt.Fprintf(w, "failed: %s %s\n", termSafe(f.User), termSafe(f.Reason))
		}
	}
}

func etaString(secs float64) string {
	if secs <= 0 {
		return "-"
	}
	return (time.Duration(secs) * time.Second).String()
}

// watch shows a progress bar of the batch until it leaves running, and
// returns its final view.
func (a *app) watch(ctx context.Context, cl *Client, id string) (BatchView, error) {
	bar := progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(a.env.Stderr),
		progressbar.OptionSetDescription("grading"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		// No background spinner goroutine: it races with Describe and Set.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		v, err := cl.Batch(ctx, id)
		if IsStatus(err, http.StatusServiceUnavailable) {
			// Temporal is briefly out of reach: the API says retry, so wait a tick.
			select {
			case <-ctx.Done():
				return BatchView{}, fmt.Errorf("watch batch %s: %w", id, ctx.Err())
			case <-t.C:
			}
			continue
		}
		if err != nil {
			return BatchView{}, fmt.Errorf("watch batch %s: %w", id, err)
		}
		p := v.Progress
		if p.Total > 0 {
			bar.ChangeMax(p.Total)
		}
		bar.Describe(fmt.Sprintf("grading %.1f/s eta %s failed %d%s", p.PerSecond, etaString(p.ETASeconds), p.Failed, pausedMark(p.Paused)))
		_ = bar.Set(p.Done)
		if v.Status != grading.BatchRunning {
			_ = bar.Finish()
			_, _ = fmt.Fprintln(a.env.Stderr)
			return v, nil
		}
		select {
		case <-ctx.Done():
			return BatchView{}, fmt.Errorf("watch batch %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

func pausedMark(p bool) string {
	if p {
		return " (paused)"
	}
	return ""
}

func (a *app) batchResults() *cobra.Command {
	var format string
	var deliveryIDs bool
	cmd := &cobra.Command{
		Use:   "results ID [--format table|csv|json] [--delivery-ids]",
		Short: "Print a batch's results, one row per delivery",
		Args:  exactArgs(1, "a batch ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "table", "csv", "json":
			default:
				return usage("--format %q: want table, csv or json", format)
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			rows, raw, err := cl.Results(cmd.Context(), args[0])
			if err != nil {
				return fail(fmt.Errorf("read results of batch %s: %w", args[0], err))
			}
			return fail(writeResults(a.env.Stdout, format, deliveryIDs, rows, raw))
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, csv or json")
	cmd.Flags().BoolVar(&deliveryIDs, "delivery-ids", false, "csv: add a delivery_id column (a batch of all deliveries lists a user once per delivery)")
	return cmd
}

// writeResults prints results; csv has the header user,status,score,max_score
// and, with deliveryIDs, a last delivery_id column.
func writeResults(w io.Writer, format string, deliveryIDs bool, rows []ResultRow, raw []byte) error {
	score := func(r ResultRow) string {
		if r.Score == nil {
			return ""
		}
		return strconv.FormatFloat(*r.Score, 'f', -1, 64)
	}
	maxScore := func(r ResultRow) string { return strconv.FormatFloat(r.MaxScore, 'f', -1, 64) }
	switch format {
	case "json":
		_, err := fmt.Fprintf(w, "%s\n", raw)
		return err
	case "csv":
		cw := csv.NewWriter(w)
		header := []string{"user", "status", "score", "max_score"}
		if deliveryIDs {
			header = append(header, "delivery_id")
		}
		_ = cw.Write(header)
		for _, r := range rows {
			rec := []string{spreadsheet.Text(r.User), r.Status, score(r), maxScore(r)}
			if deliveryIDs {
				rec = append(rec, r.DeliveryID)
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "USER\tSTATUS\tSCORE\tMAX\tREASON")
	for _, r := range rows {
		s := score(r)
		if s == "" {
			s = "-"
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", termSafe(r.User), termSafe(r.Status), s, maxScore(r), termSafe(r.Diagnostic))
	}
	return errors.Join(tw.Flush())
}
