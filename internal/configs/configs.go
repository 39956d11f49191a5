// Package configs takes in a grading config: its definition validated and
// expanded, the assignment files uploaded with it stored in the bucket
// (archives among them unpacked, under the same safety rules as
// deliveries), then its row in the store. The API and the in-process test
// harness both store configs through Save, so they leave the same objects
// and rows.
package configs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// Creator records a config row and finds the environment a definition
// names.
type Creator interface {
	CreateConfig(ctx context.Context, cfg grading.Config) (grading.Config, error)
	Environment(ctx context.Context, name string) (grading.Environment, error)
}

// Upload is one assignment file sent with a config, under the name the
// definition declares it with.
type Upload struct {
	Name string
	Open func() (io.ReadCloser, error)
}

// Save parses src, checks that uploads are exactly the files the definition
// declares with source: upload, unpacks the archives among them, together
// under lim (archive errors keep their sentinels), into assignment files,
// stores every assignment file under the config's asset keys and records
// the config with its expanded definition as Parsed, the environment it
// names resolved to its digest. An invalid definition, mismatched uploads
// or an unknown environment give a *definition.ValidationError. Nothing
// stays in the bucket when a later step fails.
func Save(ctx context.Context, bucket *blob.Bucket, rows Creator, course string, src []byte, uploads []Upload, lim archive.Limits) (grading.Config, error) {
	def, err := definition.Parse(src)
	if err != nil {
		return grading.Config{}, err
	}
	if err := MatchUploads(def, uploads); err != nil {
		return grading.Config{}, err
	}
	tmp, err := os.MkdirTemp("", "zinc-config-")
	if err != nil {
		return grading.Config{}, fmt.Errorf("create unpack directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	def, files, err := Expand(def, src, uploads, tmp, lim)
	if err != nil {
		return grading.Config{}, err
	}
	if err := resolveEnvironment(ctx, rows, def); err != nil {
		return grading.Config{}, err
	}
	parsed, err := json.Marshal(def)
	if err != nil {
		return grading.Config{}, fmt.Errorf("encode definition: %w", err)
	}
	id, err := store.NewID()
	if err != nil {
		return grading.Config{}, err
	}
	written := make([]string, 0, len(files))
	cleanup := func() {
		// Remove the objects even when the caller has gone away.
		for _, key := range written {
			_ = bucket.Delete(context.WithoutCancel(ctx), key)
		}
	}
	for _, f := range files {
		key := objectstore.ConfigAssetKey(id, f.Name)
		if err := put(ctx, bucket, key, f); err != nil {
			cleanup()
			return grading.Config{}, err
		}
		written = append(written, key)
	}
	cfg, err := rows.CreateConfig(ctx, grading.Config{ID: id, Name: def.Name, Course: course, Source: string(src), Parsed: parsed})
	if err != nil {
		cleanup()
		return grading.Config{}, err
	}
	return cfg, nil
}

// Expand unpacks the archives among uploads (def parsed from src, uploads
// matching it) into tmp under lim, as Save does, and returns the definition
// with the archives' content as assignment files (scenarios_from expanded
// over it) and the files to use: plain uploads as they are, archives by
// their content. Without archives it returns def and uploads unchanged.
func Expand(def *definition.Definition, src []byte, uploads []Upload, tmp string, lim archive.Limits) (*definition.Definition, []Upload, error) {
	files, archives, err := unpackArchives(def, uploads, tmp, lim)
	if err != nil {
		return nil, nil, err
	}
	if len(archives) > 0 {
		if def, err = definition.ParseWithArchives(src, archives); err != nil {
			return nil, nil, err
		}
	}
	return def, files, nil
}

// resolveEnvironment records in def the digest of the environment it
// names, so the config keeps running the image it was stored with.
func resolveEnvironment(ctx context.Context, rows Creator, def *definition.Definition) error {
	if def.Environment == nil {
		return nil
	}
	env, err := rows.Environment(ctx, def.Environment.Image)
	if errors.Is(err, grading.ErrNotFound) {
		return &definition.ValidationError{Problems: []definition.Problem{{
			Path:    "environment.image",
			Message: fmt.Sprintf("unknown environment %q (upload it with POST /v1/environments)", def.Environment.Image),
		}}}
	}
	if err != nil {
		return fmt.Errorf("look up environment %s: %w", def.Environment.Image, err)
	}
	def.Environment.Digest = env.Digest
	return nil
}

// MatchUploads checks that the uploads are exactly the files the
// definition declares with source: upload, each once. The problems are
// reported like the definition's own, so a client handles one format.
func MatchUploads(def *definition.Definition, uploads []Upload) error {
	var problems []definition.Problem
	sent := make(map[string]bool, len(uploads))
	for _, u := range uploads {
		f, declared := def.File(u.Name)
		switch {
		case sent[u.Name]:
			problems = append(problems, definition.Problem{Message: fmt.Sprintf("file %q is uploaded more than once", u.Name)})
		case !declared || !f.Upload:
			problems = append(problems, definition.Problem{Message: fmt.Sprintf("file %q is uploaded but the definition declares no file of that name with source: upload", u.Name)})
		}
		sent[u.Name] = true
	}
	for i, f := range def.Files {
		if f.Upload && !sent[f.Name] {
			problems = append(problems, definition.Problem{
				Path:    fmt.Sprintf("files[%d].source", i),
				Message: fmt.Sprintf("file %q has source: upload but was not uploaded", f.Name),
			})
		}
	}
	if len(problems) > 0 {
		return &definition.ValidationError{Problems: problems}
	}
	return nil
}

// unpackArchives unpacks every archive upload into its own directory under
// tmp and returns the files to store (plain uploads as they are, archives
// by their content) and, per archive, the names of the files it held. lim
// bounds the archives' files together: each archive is checked against it
// as it is unpacked, and all of them so far after each one, so the files
// on disk never exceed twice lim however many archives come.
func unpackArchives(def *definition.Definition, uploads []Upload, tmp string, lim archive.Limits) ([]Upload, map[string][]string, error) {
	var (
		files []Upload
		total archive.Stats
	)
	archives := map[string][]string{}
	for i, u := range uploads {
		if f, _ := def.File(u.Name); !f.IsArchive() {
			files = append(files, u)
			continue
		}
		dir := filepath.Join(tmp, fmt.Sprint(i))
		names, stats, err := unpack(u, dir, lim)
		if err != nil {
			return nil, nil, fmt.Errorf("assignment archive %q: %w", u.Name, err)
		}
		total.Files += stats.Files
		total.Bytes += stats.Bytes
		if err := lim.Check(total); err != nil {
			return nil, nil, fmt.Errorf("assignment archives up to %q together: %w", u.Name, err)
		}
		archives[u.Name] = names
		for _, name := range names {
			path := filepath.Join(dir, filepath.FromSlash(name))
			files = append(files, Upload{Name: name, Open: func() (io.ReadCloser, error) { return os.Open(path) }})
		}
	}
	return files, archives, nil
}

// errUnpackStopped ends Pack's writes once Unpack has returned.
var errUnpackStopped = errors.New("unpack stopped")

// unpack extracts one archive into dir, its entries placed in the
// archive's own directory, and lists its files, sorted.
func unpack(u Upload, dir string, lim archive.Limits) ([]string, archive.Stats, error) {
	r, err := u.Open()
	if err != nil {
		return nil, archive.Stats{}, fmt.Errorf("open: %w", err)
	}
	defer func() { _ = r.Close() }()
	// Pack expands a zip or tar.gz under the delivery rules into one
	// canonical tar.gz, which Unpack then writes out under the same rules.
	// The canonical archive streams from Pack to Unpack through a pipe, so
	// it is never held in memory.
	pr, pw := io.Pipe()
	packed := make(chan error, 1)
	go func() {
		_, err := archive.Pack(pw, []archive.File{{Name: u.Name, Reader: r}}, lim)
		_ = pw.CloseWithError(err)
		packed <- err
	}()
	stats, err := archive.Unpack(pr, dir, lim)
	_ = pr.CloseWithError(errUnpackStopped)
	// Pack checks everything before it writes, so its own failure is the
	// reason; a failed write only echoes Unpack's.
	if perr := <-packed; perr != nil && !errors.Is(perr, errUnpackStopped) {
		return nil, archive.Stats{}, perr
	}
	if err != nil {
		return nil, archive.Stats{}, err
	}
	var names []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, archive.Stats{}, fmt.Errorf("list unpacked files: %w", err)
	}
	if len(names) == 0 {
		return nil, archive.Stats{}, fmt.Errorf("%w: the archive holds no file", archive.ErrInvalidArchive)
	}
	slices.Sort(names)
	return names, stats, nil
}

// put copies one assignment file to key.
func put(ctx context.Context, bucket *blob.Bucket, key string, u Upload) error {
	r, err := u.Open()
	if err != nil {
		return fmt.Errorf("open assignment file %q: %w", u.Name, err)
	}
	defer func() { _ = r.Close() }()
	// Upload needs a content type: it cannot sniff a stream.
	if err := bucket.Upload(ctx, key, r, &blob.WriterOptions{ContentType: "application/octet-stream"}); err != nil {
		return fmt.Errorf("upload assignment file %q: %w", u.Name, err)
	}
	return nil
}
