package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

// Env is what a command run sees of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// HTTP is the client for API calls; nil means a default one.
	HTTP *http.Client
}

// Execute runs the command line args and returns the process exit code.
func Execute(ctx context.Context, args []string, env Env) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	code := codeOf(err)
	if err != nil && !errors.Is(err, errQuiet) {
		_, _ = fmt.Fprintf(env.Stderr, "zinc: %s\n", termSafeLines(err.Error()))
		if code == ExitUsage {
			_, _ = fmt.Fprintln(env.Stderr, "run 'zinc --help' for usage")
		}
	}
	return code
}

// app holds what the commands share.
type app struct {
	env Env
}

// client builds the API client from the settings.
func (a *app) client() (*Client, error) {
	s, err := loadSettings(a.env.Getenv)
	if err != nil {
		return nil, usage("%w", err)
	}
	c, err := NewClient(s.APIURL, s.Token, a.env.HTTP)
	if err != nil {
		return nil, usage("%w", err)
	}
	return c, nil
}

func newRoot(env Env) *cobra.Command {
	a := &app{env: env}
	root := &cobra.Command{
		Use:   "zinc",
		Short: "Command line for ZINC course staff",
		Long: `zinc imports deliveries, starts and steers grading batches, reads results and
checks grading configs before a class is graded.

The API is ZINC_API_URL with the credential ZINC_TOKEN, or api_url and token in
the config file ($ZINC_CONFIG, default ~/.config/zinc/config.yaml).

Exit codes: 0 ok, 1 failure, 2 usage, 3 batch finished with failures.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage("%w", err) })
	root.AddCommand(a.deliveriesCommand(), a.batchCommand(), a.configCommand())
	return root
}

// args checks the number of positional arguments as a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usage("want %s, got %d argument(s)", names, len(args))
		}
		return nil
	}
}
