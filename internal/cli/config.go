package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/configs"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check grading configs before a class is graded"}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Validate a pipeline definition offline, with the API's path-addressed errors",
		Args:  exactArgs(1, "a definition file"),
		RunE: func(_ *cobra.Command, args []string) error {
			def, err := parseFile(args[0], a.env.Stdout)
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintf(a.env.Stdout, "%s: valid (version %d, %d stages, max score %s)\n",
				args[0], def.Version, len(def.Stages), formatNum(def.MaxScore()))
			return nil
		},
	})
	var delivery, image string
	try := &cobra.Command{
		Use:   "try FILE --delivery DIR [--image TAR]",
		Short: "Run the pipeline on one delivery in the local sandbox and print its stages and score",
		Long: `Run the pipeline on one delivery in the local sandbox, as the pipeline worker
would, and print each stage's state and a final line "score: X/Y". Files the
definition marks "source: upload" are read next to FILE. Sandbox limits come
from the ZINC_SANDBOX_* variables, as for the worker. A definition that names
an environment needs --image: the image layout tar that would be uploaded
with POST /v1/environments (docker save, skopeo copy ... oci-archive:), which
is checked and unpacked as the API and the worker do.`,
		Args: exactArgs(1, "a definition file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if delivery == "" {
				return usage("--delivery is required")
			}
			def, err := parseFile(args[0], a.env.Stdout)
			if err != nil {
				return err
			}
			switch {
			case def.Environment != nil && image == "":
				return usage("the definition runs in environment %q: pass its image layout tar with --image", def.Environment.Image)
			case def.Environment == nil && image != "":
				return usage("--image is for definitions that name an environment")
			}
			rep, err := tryDefinition(cmd.Context(), def, args[0], delivery, image)
			var ve *definition.ValidationError
			if errors.As(err, &ve) {
				return printProblems(args[0], ve, a.env.Stdout)
			}
			if err != nil {
				return fail(err)
			}
			for _, st := range rep.Steps {
				_, _ = fmt.Fprintln(a.env.Stdout, stepLine(st))
			}
			if rep.Diagnostic != "" {
				_, _ = fmt.Fprintf(a.env.Stdout, "diagnostic: %s\n", termSafe(rep.Diagnostic))
			}
			score := formatNum(rep.Score)
			if rep.Status != grading.StatusGraded {
				score = string(rep.Status)
			}
			_, _ = fmt.Fprintf(a.env.Stdout, "score: %s/%s\n", score, formatNum(rep.MaxScore))
			if rep.Status != grading.StatusGraded {
				return &exitError{code: ExitFailure, err: errQuiet}
			}
			return nil
		},
	}
	try.Flags().StringVar(&delivery, "delivery", "", "`DIR` holding one student's files (required)")
	try.Flags().StringVar(&image, "image", "", "the environment's OCI image layout `TAR`, when the definition names one")
	cmd.AddCommand(try)
	return cmd
}

// parseFile reads and validates a definition; problems are printed one per
// line as "path: message" and end the command with exit 1.
func parseFile(file string, out io.Writer) (*definition.Definition, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fail(fmt.Errorf("read definition: %w", err))
	}
	def, err := definition.Parse(src)
	var ve *definition.ValidationError
	if errors.As(err, &ve) {
		return nil, printProblems(file, ve, out)
	}
	if err != nil {
		return nil, fail(fmt.Errorf("parse %s: %w", file, err))
	}
	return def, nil
}

// printProblems prints a definition's problems one per line as "path:
// message" and returns the error that ends the command with exit 1.
func printProblems(file string, ve *definition.ValidationError, out io.Writer) error {
	_, _ = fmt.Fprintf(out, "%s: invalid grading config: %d problem(s)\n", file, len(ve.Problems))
	for _, p := range ve.Problems {
		_, _ = fmt.Fprintln(out, p.String())
	}
	return &exitError{code: ExitFailure, err: errQuiet}
}

// tryDefinition unpacks the definition's archives as the API does (their
// files become assignment files, scenarios_from expanded over them), copies
// the delivery into a scratch directory and runs the engine on it in the
// sandbox configured by the process environment, in the image of the tar
// at image when it is set. An archive that changes what the definition
// means to something invalid gives a *definition.ValidationError.
func tryDefinition(ctx context.Context, def *definition.Definition, file, deliveryDir, image string) (engine.Report, error) {
	// os.CopyFS would quote "." rather than the path given.
	if fi, err := os.Stat(deliveryDir); err != nil {
		return engine.Report{}, fmt.Errorf("delivery: %w", err)
	} else if !fi.IsDir() {
		return engine.Report{}, fmt.Errorf("delivery %s: not a directory", deliveryDir)
	}
	assetDir := filepath.Dir(file)
	var uploads []configs.Upload
	for _, f := range def.Files {
		if !f.Upload {
			continue
		}
		path := filepath.Join(assetDir, filepath.FromSlash(f.Name))
		if _, err := os.Stat(path); err != nil {
			return engine.Report{}, fmt.Errorf("read assignment file %s (source: upload, read next to the definition): %w", f.Name, err)
		}
		uploads = append(uploads, configs.Upload{Name: f.Name, Open: func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return engine.Report{}, fmt.Errorf("read definition: %w", err)
	}
	unpacked, err := os.MkdirTemp("", "zinc-try-files-")
	if err != nil {
		return engine.Report{}, fmt.Errorf("create unpack directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(unpacked) }()
	def, files, err := configs.Expand(def, src, uploads, unpacked, archive.Limits{})
	if err != nil {
		return engine.Report{}, err
	}
	assets := map[string][]byte{}
	for _, u := range files {
		data, err := readUpload(u)
		if err != nil {
			return engine.Report{}, fmt.Errorf("read assignment file %s: %w", u.Name, err)
		}
		assets[u.Name] = data
	}
	scratch, err := os.MkdirTemp("", "zinc-try-")
	if err != nil {
		return engine.Report{}, fmt.Errorf("create scratch directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(scratch) }()
	if err := os.CopyFS(scratch, os.DirFS(deliveryDir)); err != nil {
		return engine.Report{}, fmt.Errorf("copy delivery %s: %w", deliveryDir, err)
	}
	cfg, err := servicedefaults.LoadEnv[sandbox.Config]()
	if err != nil {
		return engine.Report{}, err
	}
	log := slog.New(slog.DiscardHandler)
	sb, err := sandbox.New(cfg, log)
	if err != nil {
		return engine.Report{}, fmt.Errorf("set up sandbox: %w", err)
	}
	defer func() { _ = sb.Close() }()
	var rootFS string
	if image != "" {
		envDir, err := os.MkdirTemp("", "zinc-try-image-")
		if err != nil {
			return engine.Report{}, fmt.Errorf("create image directory: %w", err)
		}
		defer func() { _ = os.RemoveAll(envDir) }()
		if rootFS, err = environment.Unpack(ctx, image, envDir, environment.Limits{}); err != nil {
			return engine.Report{}, fmt.Errorf("environment %s from %s: %w", def.Environment.Image, image, err)
		}
	}
	rep, err := engine.New(sb, log).Run(ctx, def, engine.Input{ScratchDir: scratch, Assets: assets, RootFS: rootFS})
	if err != nil {
		return engine.Report{}, fmt.Errorf("run pipeline: %w", err)
	}
	return rep, nil
}

func readUpload(u configs.Upload) ([]byte, error) {
	r, err := u.Open()
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	return io.ReadAll(r)
}

func stepLine(st grading.Step) string {
	name := st.Stage
	if st.Scenario != "" {
		name += "/" + st.Scenario
	}
	line := fmt.Sprintf("%s: %s", termSafe(name), st.State)
	if st.ExitCode != nil {
		line += " (exit " + strconv.Itoa(*st.ExitCode) + ")"
	}
	if st.TimedOut {
		line += " (timed out)"
	}
	if st.LimitHit != "" {
		line += " (" + st.LimitHit + " limit)"
	}
	if st.MaxPoints > 0 {
		line += fmt.Sprintf(" %s/%s points", formatNum(st.Points), formatNum(st.MaxPoints))
	}
	if st.Message != "" {
		// Checker feedback quotes the student's output.
		line += " — " + termSafe(st.Message)
	}
	return line
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
