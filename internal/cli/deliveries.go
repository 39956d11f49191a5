package cli

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func (a *app) deliveriesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deliveries", Short: "Bulk-import student deliveries"}
	var (
		collection string
		useID      bool
		again      bool
	)
	imp := &cobra.Command{
		Use:   "import DIR|ZIP --collection ID",
		Short: "Upload one delivery per user folder (or LMS export) to a collection",
		Long: `Upload one delivery per user. DIR (or ZIP) holds one folder per user, the folder
name being the user; Moodle exports ("Full Name_1234_assignsubmission_file_/…")
and Canvas exports (flat "name_1234_5678_file") are recognised. Users that
already have a delivery in the collection are skipped, so an interrupted import
can simply be run again. A summary lists what was refused and why.`,
		Args: exactArgs(1, "a directory or a .zip file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if collection == "" {
				return usage("--collection is required")
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			subs, refused, err := ReadSubmissions(args[0], useID)
			if err != nil {
				return fail(err)
			}
			ctx := cmd.Context()
			existing := map[string]bool{}
			if !again {
				ds, err := cl.Deliveries(ctx, collection)
				switch {
				case IsStatus(err, http.StatusNotFound) || IsStatus(err, http.StatusMethodNotAllowed):
					// A server without the listing endpoint still takes
					// uploads; an unknown collection fails on the first.
					_, _ = fmt.Fprintf(a.env.Stderr, "warning: cannot list the collection's deliveries (%v); uploading every user\n", err)
				case err != nil:
					return fail(fmt.Errorf("list deliveries of collection %s: %w", collection, err))
				}
				for _, d := range ds {
					existing[d.User] = true
				}
			}
			bar := progressbar.NewOptions(len(subs),
				progressbar.OptionSetWriter(a.env.Stderr),
				progressbar.OptionSetDescription("importing"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
			var uploaded, skipped int
			for _, s := range subs {
				if existing[s.User] {
					skipped++
					_ = bar.Add(1)
					continue
				}
				if _, err := cl.CreateDelivery(ctx, collection, s.User, s.Files); err != nil {
					var ae *APIError
					if !errors.As(err, &ae) || ae.Status >= 500 || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden || (ae.Status == http.StatusNotFound && uploaded == 0) {
						_ = bar.Exit()
						return fail(fmt.Errorf("upload delivery of %s: %w (%d uploaded before)", s.User, err, uploaded))
					}
					refused = append(refused, Refusal{What: s.User, Reason: ae.Error()})
				} else {
					uploaded++
				}
				_ = bar.Add(1)
			}
			_ = bar.Finish()
			_, _ = fmt.Fprintf(a.env.Stdout, "imported %d, skipped %d (already there), refused %d\n", uploaded, skipped, len(refused))
			for _, r := range refused {
				_, _ = fmt.Fprintf(a.env.Stdout, "refused: %s: %s\n", termSafe(r.What), termSafe(r.Reason))
			}
			if len(refused) > 0 {
				return &exitError{code: ExitFailure, err: errQuiet}
			}
			return nil
		},
	}
	imp.Flags().StringVar(&collection, "collection", "", "collection `ID` (required)")
	imp.Flags().BoolVar(&useID, "use-id", false, "name users by the LMS id rather than the name in Moodle/Canvas exports")
	imp.Flags().BoolVar(&again, "again", false, "upload users that already have a delivery (a new version)")
	cmd.AddCommand(imp)
	return cmd
}
